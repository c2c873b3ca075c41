/// A route path whose segments may be captures (`/api/v1/users/{id}`): a capture matches one
/// whole, non-empty segment. Matching is by prefix, as for every route: what follows the
/// pattern is the rest of the path.
public struct PathPattern: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case capture(String)
    }

    let segments: [Segment]
    /// Why the path cannot be a pattern (a brace inside a segment, an empty or repeated name).
    public let problem: String?
    public var names: [String] {
        segments.compactMap { if case .capture(let n) = $0 { n } else { nil } }
    }
    public var hasCaptures: Bool { !names.isEmpty }
    public var segmentCount: Int { segments.count }

    public init(_ path: String) {
        var segments: [Segment] = []
        var problem: String?
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part.hasPrefix("{"), part.hasSuffix("}"), part.count > 2 {
                let name = String(part.dropFirst().dropLast())
                if !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                    problem = "`{\(name)}` is not a capture name (letters, digits, `_`)"
                } else if segments.contains(.capture(name)) {
                    problem = "`{\(name)}` is captured twice"
                }
                segments.append(.capture(name))
            } else {
                if part.contains("{") || part.contains("}") {
                    problem = "`\(part)`: a capture is a whole segment (`/{id}`), not part of one"
                }
                segments.append(.literal(String(part)))
            }
        }
        self.segments = segments
        self.problem = problem
    }

    /// The captures and the rest of the path (empty, or starting with `/`), when the path starts
    /// with this pattern.
    public func match(_ path: String) -> (captures: [String: String], rest: Substring)? {
        var captures: [String: String] = [:]
        var rest = Substring(path)
        for segment in segments {
            guard rest.hasPrefix("/") else { return nil }
            let body = rest.dropFirst()
            let end = body.firstIndex(of: "/") ?? body.endIndex
            let value = body[..<end]
            switch segment {
            case .literal(let text): guard value == text else { return nil }
            case .capture(let name):
                // One plain segment: never `.`/`..` (normalised away before, but never trusted) nor
                // an encoded slash or backslash that the service could decode into more segments.
                guard !value.isEmpty, value != ".", value != "..", !value.contains("\\") else { return nil }
                let lower = value.lowercased()
                guard !lower.contains("%2f"), !lower.contains("%5c"), !lower.contains("%2e%2e") else { return nil }
                captures[name] = String(value)
            }
            rest = body[end...]
        }
        return (captures, rest)
    }

    /// `{name}` placeholders of a rewrite template.
    public static func placeholders(in template: String) -> [String] {
        var out: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return out
    }

    /// The template with captures put in, in one pass from left to right (a captured value that
    /// looks like `{name}` is never filled in again).
    public static func fill(_ template: String, _ captures: [String: String]) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            out += captures[name] ?? String(rest[open...close])
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
