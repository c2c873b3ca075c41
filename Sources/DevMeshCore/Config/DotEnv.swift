/// dotenv files (`KEY=value`, `export KEY=value`, quotes, `#` comments), as Docker Compose and foreman read them.
public enum DotEnv {
    public static func parse(_ text: String, file: String) -> ([EnvVar], [Diagnostic]) {
        var vars: [EnvVar] = []
        var diagnostics: [Diagnostic] = []
        for (index, rawLine) in text.sourceLines.enumerated() {
            let line = Substring(rawLine)
            let indent = line.prefix { $0 == " " || $0 == "\t" }.count
            var content = line.dropFirst(indent)
            if content.isEmpty || content.hasPrefix("#") { continue }
            let location = SourceLocation(file: file, line: index + 1, column: indent + 1)
            if content.hasPrefix("export ") { content = content.dropFirst("export ".count) }
            guard let eq = content.firstIndex(of: "=") else {
                diagnostics.append(.error(at: location, "this line has no `KEY=value` form",
                                          hint: "write it as `KEY=value`, or start it with `#` to make it a comment"))
                continue
            }
            let key = content[..<eq].trimmingWhitespace()
            guard EnvName.isValid(key) else {
                diagnostics.append(.error(at: location, "`\(key)` is not a valid environment variable name",
                                          hint: "use letters, digits and `_`, not starting with a digit"))
                continue
            }
            var value = Substring(content[content.index(after: eq)...].trimmingWhitespace())
            if let q = value.first, q == "\"" || q == "'" {
                guard value.count >= 2, value.last == q else {
                    diagnostics.append(.error(at: location, "the value of `\(key)` opens a quote \(q) that is not closed",
                                              hint: "close the quote on the same line"))
                    continue
                }
                value = value.dropFirst().dropLast()
                if q == "\"" { value = Substring(unescapeDoubleQuoted(value)) }
            } else if let hash = value.firstRange(of: " #") {
                value = Substring(value[..<hash.lowerBound].trimmingWhitespace())
            }
            vars.append(EnvVar(name: key, value: String(value), location: location))
        }
        return (vars, diagnostics)
    }

    static func unescapeDoubleQuoted(_ s: Substring) -> String {
        var out = ""
        var escaping = false
        for c in s {
            if escaping {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(c)
                }
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}

/// Environment variable names: letters, digits and `_`, not starting with a digit.
public enum EnvName {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
