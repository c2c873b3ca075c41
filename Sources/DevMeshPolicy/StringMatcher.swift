/// One value of a policy field, as Istio reads it: `abc` exact, `abc*` prefix, `*abc` suffix,
/// `*` any non-empty value. A `*` anywhere else is a literal character (which `policy lint`
/// points out: users expect a glob).
public enum StringMatcher: Sendable, Equatable {
    case exact(String)
    case prefix(String)
    case suffix(String)
    case presence

    public init(_ pattern: String) {
        if pattern == "*" {
            self = .presence
        } else if pattern.hasSuffix("*") {
            self = .prefix(String(pattern.dropLast()))
        } else if pattern.hasPrefix("*") {
            self = .suffix(String(pattern.dropFirst()))
        } else {
            self = .exact(pattern)
        }
    }

    /// `value` nil means the request has no such attribute (no principal without mTLS, say):
    /// only a negative (`notX`) field can then hold.
    public func matches(_ value: String?, caseInsensitive: Bool = false) -> Bool {
        guard let value else { return false }
        let v = caseInsensitive ? value.lowercased() : value
        func fold(_ s: String) -> String { caseInsensitive ? s.lowercased() : s }
        switch self {
        case .presence: return !value.isEmpty
        case .exact(let s): return v == fold(s)
        case .prefix(let s): return v.hasPrefix(fold(s))
        case .suffix(let s): return v.hasSuffix(fold(s))
        }
    }
}

/// A `paths` value: a string pattern, or an Istio path template (Envoy's URI template): `{*}`
/// matches one or more characters of a single segment, `{**}` zero or more characters across
/// segments and must be the last operator. Operators stand for whole segments (`/a/{*}/b`,
/// `/files/{**}`, `/foo/{**}/`), never part of one.
public enum PathMatcher: Sendable, Equatable {
    case string(StringMatcher)
    case template([Part])

    public enum Part: Sendable, Equatable {
        case literal(String)
        case one
        case rest
    }

    /// nil for a template Istio rejects (`{**}` not last, `{*}` inside a segment, stray braces).
    public init?(_ pattern: String) {
        guard pattern.utf8.contains(UInt8(ascii: "{")), pattern.contains("{*}") || pattern.contains("{**}") else {
            self = .string(StringMatcher(pattern))
            return
        }
        guard pattern.hasPrefix("/") else { return nil }
        var parts: [Part] = []
        let segments = pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        var literal = "/"
        for (i, segment) in segments.enumerated() {
            if i > 0 { literal += "/" }
            switch segment {
            case "{*}", "{**}":
                if parts.last == .rest { return nil }  // `{**}` must be the last operator
                parts.append(.literal(literal))
                literal = ""
                parts.append(segment == "{*}" ? .one : .rest)
            default:
                guard !segment.contains("{"), !segment.contains("}"), !segment.contains("*") else { return nil }
                literal += segment
            }
        }
        parts.append(.literal(literal))
        self = .template(parts.filter { $0 != .literal("") })
    }

    public func matches(_ path: String?) -> Bool {
        guard let path else { return false }
        switch self {
        case .string(let matcher):
            return matcher.matches(path)
        case .template(let parts):
            return Self.match(parts[...], Substring(path))
        }
    }

    /// Backtracking over `{*}` lengths; `{**}` is last, so whatever follows it is a literal suffix.
    static func match(_ parts: ArraySlice<Part>, _ rest: Substring) -> Bool {
        guard let first = parts.first else { return rest.isEmpty }
        let next = parts.dropFirst()
        switch first {
        case .literal(let text):
            return rest.hasPrefix(text) && match(next, rest.dropFirst(text.count))
        case .rest:
            if case .literal(let suffix)? = next.first { return rest.hasSuffix(suffix) && next.count == 1 }
            return next.isEmpty
        case .one:
            let segment = rest.prefix { $0 != "/" }
            guard !segment.isEmpty else { return false }
            var length = segment.count
            while length >= 1 {
                if match(next, rest.dropFirst(length)) { return true }
                length -= 1
            }
            return false
        }
    }
}
