import DevMeshCore

/// What Istio's sidecar does to a request path before policies see it (and the upstream gets it).
///
/// Istio's `meshConfig.pathNormalization` maps onto three Envoy HTTP connection manager options
/// (https://istio.io/latest/docs/reference/config/security/normalization/):
///
/// | mode                       | Envoy                                                              |
/// |----------------------------|--------------------------------------------------------------------|
/// | `BASE` (Istio's default)   | `normalize_path: true`                                              |
/// | `MERGE_SLASHES`            | … + `merge_slashes: true`                                           |
/// | `DECODE_AND_MERGE_SLASHES` | … + `path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD`        |
///
/// Envoy applies them in this order (`ConnectionManagerUtility::maybeNormalizePath`,
/// envoy `source/common/http/conn_manager_utility.cc`), and so does this type:
///
/// 1. a `#` anywhere in `:path` → 400 (`http_reject_path_with_fragment`, on by default);
/// 2. `DECODE_AND_MERGE_SLASHES` only: `%2F`/`%2f` → `/` and `%5C`/`%5c` → `\` in the part before
///    the first `?` (`PathUtil::unescapeSlashes`, `source/common/http/path_utility.cc`);
/// 3. `PathUtil::canonicalPath`: the part before the first `?` goes through Chromium's
///    `url::CanonicalizePath` (envoy `source/common/chromium_url/url_canon_path.cc` is the
///    snapshot read), the query is re-appended byte for byte:
///    - a percent-escape of an RFC 3986 *unreserved* character (ALPHA, DIGIT, `-`, `.`, `_`, `~`)
///      is decoded — exactly the `UNESCAPE` entries of Chromium's `kPathCharLookup`, and exactly
///      Istio's table (`%2d`, `%2e`, `%30`–`%39`, `%41`–`%5a`, `%5f`, `%61`–`%7a`, `%7e`);
///      every other escape stays an escape (`%2F`, `%5C`, `%25`, `%3F`, `%23`, `%20`, `%21`, …);
///    - decoding happens once: `%252e` is `%25` followed by the literal text `2e`, so it stays
///      `%252e` (Istio: "normalization happens only once, no double decoding");
///    - `%00` (an escape whose decoded value is `INVALID` in Chromium's table) → 400;
///    - a raw `\` becomes `/` (Chromium treats it as a slash in standard URLs; Istio's table:
///      "`/some\data` will be normalized to `/some/data`", enabled with `BASE`);
///    - raw octets Chromium marks `ESCAPE` (controls, space, `"`, `<`, `>`, `^`, `` ` ``, `{`,
///      `|`, `}`, DEL and every octet ≥ 0x80) are percent-encoded;
///    - dot segments `.` and `..` — also when spelled `%2e` — are removed as in RFC 3986 §5.2.4,
///      never above the root; a final `.`/`..` leaves a trailing `/` (`/a/..` → `/`);
///    - a segment that starts with `.;` or `..;` counts as `.` or `..` (envoy
///      `PathUtil::stripParametersFromDotSegments`, runtime guard
///      `envoy.reloadable_features.strip_dotdot_segments_with_parameters`, on by default since
///      GHSA-2w8w-rfw7-8gg4), so `/..;x/admin` → `/admin`; any other `;` is ordinary text;
///    - consecutive slashes are *kept* ("We do not collapse multiple slashes in a row", Chromium):
///      `//admin` stays `//admin` in `BASE`;
/// 4. `MERGE_SLASHES` and `DECODE_AND_MERGE_SLASHES`: runs of `/` become one `/`, *after* step 3
///    ("Merge slashes after path normalization", Envoy), so `/a//../b` → `/a/b`, not `/b`.
///
/// Letters are never case-folded (paths are case-sensitive): `/ADMIN` stays `/ADMIN`.
///
/// Where devmesh deliberately differs from Envoy, each time to be stricter or to stay idempotent:
/// - an escape that is kept has its hex digits upper-cased (RFC 3986 §6.2.2.1), so `%2f` and
///   `%2F` are one string for policy matching; Chromium copies the original case;
/// - a `%` not followed by two hex digits (`%zz`, `%4`, a trailing `%`) is refused; Chromium
///   passes it through ("We use the permissive behavior");
/// - the `.;`/`..;` rule is applied to segments after decoding and after `\` → `/` (Envoy applies it
///   to the raw text, so Envoy's `/%2e%2e;x/b` only collapses on a second pass);
/// - a path that does not start with `/` is refused here; Envoy refuses it too, but earlier and
///   with 404 (`absolute_path_rejected`), while Chromium alone would prepend a `/`. The
///   asterisk-form `*` (OPTIONS) passes unchanged;
/// - a raw NUL anywhere is refused (Envoy's codecs refuse it before normalisation).
public enum PathNormalization {
    /// Why a request target must be refused (with 400) instead of normalised.
    public enum Rejection: Error, Equatable, Sendable, CustomStringConvertible {
        /// `%00` in the path, or a raw NUL byte anywhere.
        case nullByte
        /// A `#` in the request target (a fragment must never reach a server).
        case fragment
        /// A `%` in the path not followed by two hexadecimal digits.
        case invalidEncoding
        /// The path does not start with `/` (and is not the asterisk-form `*`).
        case notAbsolute

        public var description: String {
            switch self {
            case .nullByte: "the path contains a NUL byte (%00)"
            case .fragment: "the request target contains a fragment (#)"
            case .invalidEncoding: "the path contains a % not followed by two hexadecimal digits"
            case .notAbsolute: "the path does not start with /"
            }
        }
    }

    /// The path (without the query: split at the first `?`, keep the query untouched and re-append
    /// it) normalised in `mode`, or why it must be refused with 400.
    public static func normalize(_ target: String, mode: PolicyNormalization) -> Result<String, Rejection> {
        let bytes = Array(target.utf8)
        if bytes.contains(Byte.hash) { return .failure(.fragment) }
        if bytes.contains(0) { return .failure(.nullByte) }
        let queryStart = bytes.firstIndex(of: Byte.question) ?? bytes.endIndex
        let path = bytes[..<queryStart]
        if path.count == 1, path.first == Byte.asterisk { return .success(target) }
        guard path.first == Byte.slash else { return .failure(.notAbsolute) }
        switch canonicalPath(path, mode: mode) {
        case .failure(let rejection):
            return .failure(rejection)
        case .success(var out):
            out.append(contentsOf: bytes[queryStart...])
            // Every byte written by `canonicalPath` is ASCII and the query is a suffix of valid
            // UTF-8 cut at an ASCII `?`, so this decoding never substitutes anything.
            return .success(String(decoding: out, as: UTF8.self))
        }
    }

    /// Just the path part, for policy matching (query stripped).
    ///
    /// Istio's authorization policy "will remove anything after the question mark (?) when
    /// comparing with the path"; the upstream still gets the query (see `normalize`).
    public static func policyPath(_ target: String, mode: PolicyNormalization) -> Result<String, Rejection> {
        normalize(target, mode: mode).map { normalized in
            guard let q = normalized.utf8.firstIndex(of: Byte.question) else { return normalized }
            return String(normalized[..<q])
        }
    }

    // MARK: - The path part

    /// Steps 2–4 of the type's documentation on the part before the `?` (which starts with `/`).
    static func canonicalPath(_ path: ArraySlice<UInt8>, mode: PolicyNormalization) -> Result<[UInt8], Rejection> {
        let decodeSlashes = mode == .decodeAndMergeSlashes
        let mergeSlashes = mode != .base

        // Pass 1: one left-to-right scan that validates and decodes every escape exactly once.
        // Afterwards `%` only ever starts a kept escape `%HH` (upper-case hex), and the only
        // structural character is the literal `/`.
        var flat: [UInt8] = []
        flat.reserveCapacity(path.count)
        var i = path.startIndex
        while i < path.endIndex {
            let b = path[i]
            if b == Byte.percent {
                guard i + 2 < path.endIndex,
                      let hi = hexValue(path[i + 1]), let lo = hexValue(path[i + 2])
                else { return .failure(.invalidEncoding) }
                let decoded = hi << 4 | lo
                if decoded == 0 { return .failure(.nullByte) }
                if isUnreserved(decoded) {
                    flat.append(decoded)
                } else if decodeSlashes && (decoded == Byte.slash || decoded == Byte.backslash) {
                    // `%5C` → `\` → `/`: the backslash is then canonicalised like a raw one.
                    flat.append(Byte.slash)
                } else {
                    appendEscape(decoded, to: &flat)
                }
                i += 3
                continue
            }
            if b == Byte.backslash {
                flat.append(Byte.slash)
            } else if isPassedRaw(b) {
                flat.append(b)
            } else {
                appendEscape(b, to: &flat)
            }
            i += 1
        }

        // Pass 2: RFC 3986 §5.2.4 remove_dot_segments over the `/`-separated segments.
        // `flat` starts with `/`, so the first split element is the empty string before it.
        let segments = Array(flat.split(separator: Byte.slash, omittingEmptySubsequences: false).dropFirst())
        var kept: [ArraySlice<UInt8>] = []
        kept.reserveCapacity(segments.count)
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            switch dotSegment(segment) {
            case .current:
                if isLast { kept.append([]) }
            case .parent:
                if !kept.isEmpty { kept.removeLast() }
                if isLast { kept.append([]) }
            case .none:
                kept.append(segment)
            }
        }

        var out: [UInt8] = []
        out.reserveCapacity(flat.count)
        if kept.isEmpty {
            out.append(Byte.slash)
        } else {
            for segment in kept {
                out.append(Byte.slash)
                out.append(contentsOf: segment)
            }
        }

        // Step 4: merge runs of `/` — after dot removal, as Envoy does.
        if mergeSlashes {
            var merged: [UInt8] = []
            merged.reserveCapacity(out.count)
            for b in out where !(b == Byte.slash && merged.last == Byte.slash) {
                merged.append(b)
            }
            out = merged
        }
        return .success(out)
    }

    enum DotSegment { case current, parent }

    /// `.`/`..` — also `.;…`/`..;…` (Envoy's `stripParametersFromDotSegments`).
    static func dotSegment(_ segment: ArraySlice<UInt8>) -> DotSegment? {
        var it = segment.makeIterator()
        guard it.next() == Byte.dot else { return nil }
        switch it.next() {
        case nil, Byte.semicolon?: return .current
        case Byte.dot?:
            switch it.next() {
            case nil, Byte.semicolon?: return .parent
            default: return nil
            }
        default: return nil
        }
    }

    // MARK: - Character classes

    /// RFC 3986 §2.3 unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" — the characters Chromium's
    /// `kPathCharLookup` marks `UNESCAPE` (plus `.`, which it decodes through `IsDot`).
    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// Raw octets Chromium copies unchanged into a canonical path: unreserved, `/`, and the
    /// `PASS` entries `! $ & ' ( ) * + , ; = : @ [ ]`. (`%` and `\` are handled by the caller;
    /// `?` and `#` never get here.)
    static func isPassedRaw(_ b: UInt8) -> Bool {
        if isUnreserved(b) { return true }
        return switch b {
        case UInt8(ascii: "/"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"),
             UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="),
             UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "["), UInt8(ascii: "]"):
            true
        default:
            false
        }
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `%HH` with upper-case hex digits (RFC 3986 §6.2.2.1).
    static func appendEscape(_ b: UInt8, to out: inout [UInt8]) {
        out.append(Byte.percent)
        out.append(upperHexDigit(b >> 4))
        out.append(upperHexDigit(b & 0x0F))
    }

    static func upperHexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }

    enum Byte {
        static let slash = UInt8(ascii: "/")
        static let backslash = UInt8(ascii: "\\")
        static let percent = UInt8(ascii: "%")
        static let question = UInt8(ascii: "?")
        static let hash = UInt8(ascii: "#")
        static let dot = UInt8(ascii: ".")
        static let semicolon = UInt8(ascii: ";")
        static let asterisk = UInt8(ascii: "*")
    }
}
