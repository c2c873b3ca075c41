import Foundation

/// A structural comparison of two JSON documents: one line per difference, with its path
/// (`$.items[3].price: 10 → 12`). Ignore rules suppress differences at matching paths and count
/// what each suppressed, so a rule can never hide a whole response silently.
public struct JSONDiff: Sendable, Equatable {
    public struct Change: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable, Equatable { case changed, added, removed }
        public var path: String
        public var kind: Kind
        public var before: JSONValue?
        public var after: JSONValue?

        public var description: String {
            switch kind {
            case .changed: return "\(path): \(before?.text ?? "") → \(after?.text ?? "")"
            case .added: return "\(path): added \(after?.text ?? "")"
            case .removed: return "\(path): removed (was \(before?.text ?? ""))"
            }
        }
    }

    /// An ignore rule: a JSONPath (`$.meta.requestId`, `$.items[*].updatedAt`, `$..etag` for any
    /// depth) or, written `re:…`, a regular expression over the path.
    public struct IgnoreRule: Sendable, Equatable, CustomStringConvertible {
        public let text: String
        let matcher: Matcher

        enum Matcher: Sendable, Equatable {
            case path([Segment])
            case regex(String)
        }

        enum Segment: Sendable, Equatable {
            case key(String)
            case anyIndex
            case index(Int)
            case anyKey
            case descendant(String)
        }

        public var description: String { text }

        public struct Invalid: Error, CustomStringConvertible { public let description: String }

        public init(_ text: String) throws(Invalid) {
            self.text = text
            if text.hasPrefix("re:") {
                let pattern = String(text.dropFirst(3))
                guard (try? NSRegularExpression(pattern: pattern)) != nil else {
                    throw Invalid(description: "`\(text)`: not a valid regular expression")
                }
                matcher = .regex(pattern)
                return
            }
            guard text.hasPrefix("$") else {
                throw Invalid(description: "`\(text)`: an ignore rule is a JSONPath starting with `$` (such as `$.meta.requestId`) or `re:` and a regular expression")
            }
            var segments: [Segment] = []
            var rest = Substring(text.dropFirst())
            while !rest.isEmpty {
                if rest.hasPrefix("..") {
                    rest = rest.dropFirst(2)
                    let name = rest.prefix { $0 != "." && $0 != "[" }
                    guard !name.isEmpty else { throw Invalid(description: "`\(text)`: `..` needs a key after it") }
                    segments.append(.descendant(String(name)))
                    rest = rest.dropFirst(name.count)
                } else if rest.hasPrefix(".") {
                    rest = rest.dropFirst()
                    let name = rest.prefix { $0 != "." && $0 != "[" }
                    guard !name.isEmpty else { throw Invalid(description: "`\(text)`: empty key") }
                    segments.append(name == "*" ? .anyKey : .key(String(name)))
                    rest = rest.dropFirst(name.count)
                } else if rest.hasPrefix("[") {
                    guard let close = rest.firstIndex(of: "]") else { throw Invalid(description: "`\(text)`: `[` without `]`") }
                    let inner = rest[rest.index(after: rest.startIndex)..<close]
                    if inner == "*" { segments.append(.anyIndex) }
                    else if let i = Int(inner), i >= 0 { segments.append(.index(i)) }
                    else if inner.count >= 2, inner.first == "'" || inner.first == "\"", inner.last == inner.first {
                        segments.append(.key(String(inner.dropFirst().dropLast())))
                    } else { throw Invalid(description: "`\(text)`: `[\(inner)]` is not an index, `*` or a quoted key") }
                    rest = rest[rest.index(after: close)...]
                } else {
                    throw Invalid(description: "`\(text)`: unexpected `\(rest.prefix(10))`")
                }
            }
            matcher = .path(segments)
        }

        /// Whether the rule covers `path` (a change at or below a matching node).
        func matches(_ path: [PathPart], rendered: String) -> Bool {
            switch matcher {
            case .regex(let pattern):
                return rendered.range(of: pattern, options: .regularExpression) != nil
            case .path(let segments):
                return Self.match(segments[...], path[...])
            }
        }

        static func match(_ segments: ArraySlice<Segment>, _ path: ArraySlice<PathPart>) -> Bool {
            guard let first = segments.first else { return true }  // a prefix: everything below
            switch first {
            case .descendant(let name):
                for i in path.indices where path[i] == .key(name) {
                    if match(segments.dropFirst(), path[(i + 1)...]) { return true }
                }
                return false
            default:
                guard let part = path.first else { return false }
                let ok: Bool
                switch (first, part) {
                case (.key(let a), .key(let b)): ok = a == b
                case (.anyKey, .key): ok = true
                case (.anyIndex, .index): ok = true
                case (.index(let a), .index(let b)): ok = a == b
                default: ok = false
                }
                return ok && match(segments.dropFirst(), path.dropFirst())
            }
        }
    }

    enum PathPart: Equatable {
        case key(String)
        case index(Int)
    }

    public var changes: [Change]
    /// Per rule (in the order given), how many differences it suppressed.
    public var suppressed: [(rule: String, count: Int)]

    public var isEmpty: Bool { changes.isEmpty }

    public static func == (a: JSONDiff, b: JSONDiff) -> Bool {
        a.changes == b.changes && a.suppressed.map { "\($0.rule)\u{1}\($0.count)" } == b.suppressed.map { "\($0.rule)\u{1}\($0.count)" }
    }

    /// At most this many changes are listed (a rewritten response would otherwise list every leaf).
    public static let maxChanges = 500

    public static func compare(_ before: JSONValue, _ after: JSONValue, ignoring rules: [IgnoreRule] = []) -> JSONDiff {
        var diff = JSONDiff(changes: [], suppressed: rules.map { ($0.text, 0) })
        var path: [PathPart] = []
        walk(before, after, &path, rules, &diff)
        return diff
    }

    static func render(_ path: [PathPart]) -> String {
        var out = "$"
        for part in path {
            switch part {
            case .key(let k):
                if !k.isEmpty, k.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) { out += "." + k }
                else { out += "['" + k.replacingOccurrences(of: "'", with: "\\'") + "']" }
            case .index(let i): out += "[\(i)]"
            }
        }
        return out
    }

    static func record(_ change: Change.Kind, _ before: JSONValue?, _ after: JSONValue?, _ path: [PathPart],
                       _ rules: [IgnoreRule], _ diff: inout JSONDiff) {
        let rendered = render(path)
        if let i = rules.firstIndex(where: { $0.matches(path, rendered: rendered) }) {
            diff.suppressed[i].count += 1
            return
        }
        guard diff.changes.count < maxChanges else { return }
        diff.changes.append(Change(path: rendered, kind: change, before: before, after: after))
    }

    static func walk(_ a: JSONValue, _ b: JSONValue, _ path: inout [PathPart], _ rules: [IgnoreRule], _ diff: inout JSONDiff) {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            for key in Set(x.keys).union(y.keys).sorted() {
                path.append(.key(key))
                switch (x[key], y[key]) {
                case (let l?, let r?): walk(l, r, &path, rules, &diff)
                case (let l?, nil): record(.removed, l, nil, path, rules, &diff)
                case (nil, let r?): record(.added, nil, r, path, rules, &diff)
                case (nil, nil): break
                }
                path.removeLast()
            }
        case (.array(let x), .array(let y)):
            for i in 0..<max(x.count, y.count) {
                path.append(.index(i))
                if i < x.count, i < y.count { walk(x[i], y[i], &path, rules, &diff) }
                else if i < x.count { record(.removed, x[i], nil, path, rules, &diff) }
                else { record(.added, nil, y[i], path, rules, &diff) }
                path.removeLast()
            }
        case (.int(let x), .double(let y)) where Double(x) == y: break
        case (.double(let x), .int(let y)) where x == Double(y): break
        default:
            if a != b { record(.changed, a, b, path, rules, &diff) }
        }
    }
}
