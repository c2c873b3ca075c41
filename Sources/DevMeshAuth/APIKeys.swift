import Crypto
import DevMeshCore
import Foundation

/// A route's API keys (`auth: {api_keys: FILE}`): a name and the SHA-256 of each key, never the
/// key itself — the file can be committed and shared; a key is shown only to the one it is for.
///
///     # name   sha256 of the key (printf %s "$KEY" | sha256sum)
///     mobile   sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
///     partner  sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
public struct APIKeys: Sendable {
    public struct Entry: Sendable {
        public var name: String
        var digest: [UInt8]
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// Reads a keys file; every bad line is a diagnostic with its line and what to write.
    public static func parse(_ text: String, file: String) -> (APIKeys, [Diagnostic]) {
        var keys = APIKeys()
        var diagnostics: [Diagnostic] = []
        // `\.isNewline` also splits CRLF files (in Swift, "\r\n" is one Character).
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let at = SourceLocation(file: file, line: n + 1, column: 1)
            // `name sha256:HEX`, or `name: sha256:HEX` (YAML-looking) — the same.
            var parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let first = parts.first, first.hasSuffix(":"), first.count > 1 { parts[0] = first.dropLast() }
            guard parts.count == 2, parts[1].hasPrefix("sha256:"), let digest = Self.hex(parts[1].dropFirst(7)), digest.count == 32 else {
                diagnostics.append(.error(at: at, "`\(line.prefix(80))` is not `NAME sha256:HEX` (the SHA-256 of the key, 64 hex digits)",
                                          hint: "write the key's hash, not the key: `printf %s \"$KEY\" | sha256sum`"))
                continue
            }
            let name = String(parts[0])
            guard HeaderEdits.isFieldName(name) else {
                diagnostics.append(.error(at: at, "`\(name.prefix(40))` is not a key name (letters, digits, `-`, `_`, `.`)", hint: "names show in spans and reach the service in X-Api-Key-Name"))
                continue
            }
            if keys.entries.contains(where: { $0.name == name }) {
                diagnostics.append(.error(at: at, "the key name `\(name)` is used twice", hint: "names tell keys apart in spans and limits: make them unique"))
                continue
            }
            keys.entries.append(Entry(name: name, digest: digest))
        }
        if keys.entries.isEmpty, diagnostics.isEmpty {
            diagnostics.append(.warning(at: SourceLocation(file: file, line: 1, column: 1), "\(file) holds no API key: every request to its routes gets 401",
                                        hint: "add lines `NAME sha256:HEX`"))
        }
        return (keys, diagnostics)
    }

    /// The name of the key, or nil. Every entry is compared (in constant time), whatever matches.
    public func name(of key: String) -> String? {
        let digest = Array(SHA256.hash(data: Data(key.utf8)))
        var found: String?
        for entry in entries {
            var difference: UInt8 = 0
            for (a, b) in zip(entry.digest, digest) { difference |= a ^ b }
            if difference == 0, found == nil { found = entry.name }
        }
        return found
    }

    static func hex(_ text: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        var high: UInt8?
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return high == nil ? out : nil
    }
}
