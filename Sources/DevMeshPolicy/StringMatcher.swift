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

/// A `paths` value: a string pattern, or an Istio path template — `{*}` one whole segment,
/// `{**}` the rest of the path (one or more segments; last only).
public enum PathMatcher: Sendable, Equatable {
    case string(StringMatcher)
    case template([Segment])

    public enum Segment: Sendable, Equatable {
        case literal(String)
        case one
        case rest
    }

    /// nil for a template Istio rejects (`{**}` not last, `{*}` inside a segment, `{` elsewhere).
    public init?(_ pattern: String) {
        guard pattern.contains("{*}") || pattern.contains("{**}") else {
            self = .string(StringMatcher(pattern))
            return
        }
        guard pattern.hasPrefix("/") else { return nil }
        var segments: [Segment] = []
        let parts = pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (i, part) in parts.enumerated() {
            switch part {
            case "{*}": segments.append(.one)
            case "{**}":
                guard i == parts.count - 1 else { return nil }
                segments.append(.rest)
            default:
                guard !part.contains("{"), !part.contains("}"), !part.contains("*") else { return nil }
                segments.append(.literal(String(part)))
            }
        }
        self = .template(segments)
    }

    public func matches(_ path: String?) -> Bool {
        guard let path else { return false }
        switch self {
        case .string(let matcher):
            return matcher.matches(path)
        case .template(let segments):
            guard path.hasPrefix("/") else { return false }
            let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
            var i = 0
            for segment in segments {
                switch segment {
                case .rest:
                    // One or more segments, none of them empty.
                    return i < parts.count && parts[i...].allSatisfy { !$0.isEmpty }
                case .one:
                    guard i < parts.count, !parts[i].isEmpty else { return false }
                case .literal(let text):
                    guard i < parts.count, parts[i] == text else { return false }
                }
                i += 1
            }
            return i == parts.count
        }
    }
}
