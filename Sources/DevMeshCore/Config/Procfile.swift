/// A Procfile (foreman/honcho format) read into entries, with diagnostics for lines it cannot use.
public struct Procfile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var command: String
        /// Points at the name at the start of the line.
        public var location: SourceLocation
        /// Points at the first character of the command.
        public var commandLocation: SourceLocation
    }

    public var entries: [Entry]

    /// Parses `name: command` lines; `#` comments and blank lines are skipped.
    public static func parse(_ text: String, file: String) -> (Procfile, [Diagnostic]) {
        var entries: [Entry] = []
        var diagnostics: [Diagnostic] = []
        var seen: [String: SourceLocation] = [:]
        for (index, rawLine) in text.sourceLines.enumerated() {
            let lineNumber = index + 1
            let line = Substring(rawLine)
            let indent = line.prefix { $0 == " " || $0 == "\t" }.count
            let content = line.dropFirst(indent)
            if content.isEmpty || content.hasPrefix("#") { continue }
            let location = SourceLocation(file: file, line: lineNumber, column: indent + 1)
            guard let colon = content.firstIndex(of: ":") else {
                diagnostics.append(.error(
                    at: location, "this Procfile line has no `name: command` form",
                    hint: "write it as `name: command`, or start it with `#` to make it a comment"))
                continue
            }
            let name = content[..<colon].trimmingWhitespace()
            let afterColon = content[content.index(after: colon)...]
            let commandIndent = afterColon.prefix { $0 == " " || $0 == "\t" }.count
            let command = afterColon.trimmingWhitespace()
            let commandColumn = indent + content.distance(from: content.startIndex, to: colon) + 2 + commandIndent
            if name.isEmpty {
                diagnostics.append(.error(at: location, "this Procfile line has no process name before `:`",
                                          hint: "write it as `name: command`"))
                continue
            }
            if command.isEmpty {
                diagnostics.append(.error(
                    at: SourceLocation(file: file, line: lineNumber, column: commandColumn),
                    "the command of `\(name)` is empty",
                    hint: "write the command after `\(name):`, or remove the line"))
                continue
            }
            if let first = seen[name] {
                diagnostics.append(.error(
                    at: location, "duplicate service `\(name)` (first defined at line \(first.line))",
                    hint: "give each Procfile line its own name, e.g. `\(name)-2`"))
                continue
            }
            seen[name] = location
            entries.append(Entry(
                name: name, command: command, location: location,
                commandLocation: SourceLocation(file: file, line: lineNumber, column: commandColumn)))
        }
        return (Procfile(entries: entries), diagnostics)
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
