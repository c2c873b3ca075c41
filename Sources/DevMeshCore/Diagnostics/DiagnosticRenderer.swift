/// Renders diagnostics the way compilers do: `file:line:col: error: message`, the source line,
/// a caret under the column, and the hint.
public struct DiagnosticRenderer: Sendable {
    /// Source text by file name, to quote the offending line. Missing files are simply not quoted.
    public var sources: [String: String]
    public var useColor: Bool

    public init(sources: [String: String] = [:], useColor: Bool = false) {
        self.sources = sources
        self.useColor = useColor
    }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        var out = ""
        for d in diagnostics.sortedByLocation() {
            out += render(d)
        }
        let errors = diagnostics.errors.count, warnings = diagnostics.warnings.count
        if errors + warnings > 0 {
            out += "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")\n"
        }
        return out
    }

    public func render(_ d: Diagnostic) -> String {
        var out = ""
        let label = d.severity == .error ? paint("error", .red) : paint("warning", .yellow)
        if let loc = d.location {
            out += paint("\(loc):", .bold) + " \(label): \(d.message)\n"
            if let line = sourceLine(loc) {
                out += "    \(line)\n"
                let pad = String(line.prefix(max(0, loc.column - 1)).map { $0 == "\t" ? "\t" : " " })
                out += "    \(pad)\(paint("^", .green))\n"
            }
        } else {
            out += "\(label): \(d.message)\n"
        }
        if let hint = d.hint {
            out += "  \(paint("hint:", .cyan)) \(hint)\n"
        }
        return out
    }

    private func sourceLine(_ loc: SourceLocation) -> String? {
        guard let text = sources[loc.file], loc.line >= 1 else { return nil }
        var current = 1
        for line in text.sourceLines {
            if current == loc.line {
                return String(line)
            }
            current += 1
        }
        return nil
    }

    private enum Style: String { case red = "31", yellow = "33", green = "32", cyan = "36", bold = "1" }

    private func paint(_ s: String, _ style: Style) -> String {
        useColor ? "\u{1B}[\(style.rawValue)m\(s)\u{1B}[0m" : s
    }
}
