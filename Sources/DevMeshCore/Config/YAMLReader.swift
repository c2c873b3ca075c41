import Yams

/// Typed reads from a composed YAML tree that record a diagnostic (with file:line:column)
/// instead of throwing, so one pass reports every problem at once.
public struct YAMLReader {
    public let file: String
    public var diagnostics: [Diagnostic] = []

    public init(file: String) { self.file = file }

    public func location(of node: Node) -> SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    public mutating func error(_ node: Node, _ message: String, hint: String? = nil) {
        diagnostics.append(.error(at: location(of: node), message, hint: hint))
    }

    public mutating func warning(_ node: Node, _ message: String, hint: String? = nil) {
        diagnostics.append(.warning(at: location(of: node), message, hint: hint))
    }

    /// A YAML type name for messages: "a mapping", "a list", "the number 3".
    public static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            if s.style == .plain, s.string.isEmpty || s.string == "~" || s.string == "null" { return "nothing (null)" }
            if s.style == .plain, Int(s.string) != nil { return "the number \(s.string)" }
            if s.style == .plain, ["true", "false", "yes", "no"].contains(s.string.lowercased()) { return "the boolean \(s.string)" }
            return "the text \"\(s.string)\""
        }
    }

    // MARK: - Mappings

    /// The pairs of a mapping whose keys are all strings; unknown keys are reported with a suggestion.
    public mutating func mapping(_ node: Node, what: String, allowed: [String]?) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping, not \(Self.describe(node))",
                  hint: allowed.map { "write it as `key: value` lines; known keys: \($0.joined(separator: ", "))" })
            return nil
        }
        var out: [(String, Node, Node)] = []
        for (k, v) in mapping {
            guard case .scalar(let ks) = k else {
                error(k, "keys of \(what) must be plain names, not \(Self.describe(k))")
                continue
            }
            if let allowed, !allowed.contains(ks.string) {
                let near = Suggestion.closest(to: ks.string, in: allowed)
                error(k, "unknown key `\(ks.string)` in \(what)",
                      hint: near.map { "did you mean `\($0)`?" } ?? "known keys: \(allowed.joined(separator: ", "))")
                continue
            }
            out.append((ks.string, k, v))
        }
        return out
    }

    // MARK: - Scalars

    public func isNull(_ node: Node) -> Bool {
        if case .scalar(let s) = node, s.style == .plain, s.string.isEmpty || s.string == "~" || s.string == "null" {
            return true
        }
        return false
    }

    public mutating func string(_ node: Node, what: String, hint: String? = nil) -> String? {
        guard case .scalar(let s) = node, !isNull(node) else {
            error(node, "\(what) must be text, not \(Self.describe(node))", hint: hint)
            return nil
        }
        return s.string
    }

    /// Text, numbers and booleans all read as text (for env values and header values).
    public mutating func scalarText(_ node: Node, what: String) -> String? {
        guard case .scalar(let s) = node else {
            error(node, "\(what) must be a single value, not \(Self.describe(node))",
                  hint: "quote it if it should be text")
            return nil
        }
        return isNull(node) ? "" : s.string
    }

    public mutating func int(_ node: Node, what: String, range: ClosedRange<Int>, hint: String? = nil) -> Int? {
        guard case .scalar(let s) = node, s.style == .plain, let value = Int(s.string) else {
            error(node, "\(what) must be a whole number, not \(Self.describe(node))", hint: hint)
            return nil
        }
        guard range.contains(value) else {
            error(node, "\(what) must be between \(range.lowerBound) and \(range.upperBound), not \(value)", hint: hint)
            return nil
        }
        return value
    }

    public mutating func port(_ node: Node, what: String) -> Int? {
        int(node, what: what, range: 1...65535, hint: "use a free TCP port between 1024 and 65535, or leave it out for an automatic one")
    }

    /// `20%` or `0.2`, from 0 to 100%.
    public mutating func percentage(_ node: Node, what: String) -> Double? {
        if case .scalar(let s) = node {
            let text = s.string.trimmingWhitespace()
            let value = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text)
            if let value, value >= 0, value <= 1 { return value }
        }
        error(node, "\(what) must be a share such as 20% or 0.2, not \(Self.describe(node))")
        return nil
    }

    public mutating func bool(_ node: Node, what: String) -> Bool? {
        if case .scalar(let s) = node, s.style == .plain {
            switch s.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        error(node, "\(what) must be true or false, not \(Self.describe(node))")
        return nil
    }

    public mutating func duration(_ node: Node, what: String) -> Duration? {
        guard case .scalar(let s) = node, let d = DurationParser.parse(s.string), d > .zero else {
            let extra: String
            if case .scalar(let s) = node, Int(s.string) != nil { extra = " (a number needs a unit)" } else { extra = "" }
            error(node, "\(what) must be a duration such as 500ms, 2s, 1m, 1h or 7d, not \(Self.describe(node))\(extra)",
                  hint: "write a number followed by ms, s, m, h or d")
            return nil
        }
        return d
    }

    public mutating func byteSize(_ node: Node, what: String) -> Int64? {
        guard case .scalar(let s) = node, let bytes = ByteSize.parse(s.string), bytes > 0 else {
            error(node, "\(what) must be a size such as 512MB or 2GB, not \(Self.describe(node))",
                  hint: "write a number followed by KB, MB or GB (KiB, MiB, GiB also work)")
            return nil
        }
        return bytes
    }

    public mutating func enumValue<E: RawRepresentable & CaseIterable>(_ node: Node, what: String, as _: E.Type) -> E? where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        guard case .scalar(let s) = node, !isNull(node) else {
            error(node, "\(what) must be one of \(allowed.joined(separator: ", ")), not \(Self.describe(node))")
            return nil
        }
        if let value = E(rawValue: s.string) { return value }
        let near = Suggestion.closest(to: s.string, in: allowed)
        error(node, "\(what) must be one of \(allowed.joined(separator: " | ")), not `\(s.string)`",
              hint: near.map { "did you mean `\($0)`?" })
        return nil
    }

    // MARK: - Collections

    /// A list of texts; a single text is accepted as a list of one.
    public mutating func stringList(_ node: Node, what: String) -> [(String, SourceLocation)]? {
        if case .scalar = node, !isNull(node), let s = string(node, what: what) {
            return [(s, location(of: node))]
        }
        guard case .sequence(let seq) = node else {
            error(node, "\(what) must be a list such as [a, b], not \(Self.describe(node))")
            return nil
        }
        var out: [(String, SourceLocation)] = []
        for item in seq {
            if let s = string(item, what: "each entry of \(what)") { out.append((s, location(of: item))) }
        }
        return out
    }

    /// A mapping of names to single values (env, labels, headers), in order.
    public mutating func stringMap(_ node: Node, what: String) -> [EnvVar]? {
        guard let pairs = mapping(node, what: what, allowed: nil) else { return nil }
        var out: [EnvVar] = []
        for (key, keyNode, value) in pairs {
            if let v = scalarText(value, what: "`\(key)` in \(what)") {
                out.append(EnvVar(name: key, value: v, location: location(of: keyNode)))
            }
        }
        return out
    }
}
