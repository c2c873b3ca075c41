/// `${VAR}` expansion for `env` values and external headers: from devmesh's own environment,
/// then the top-level `env_file`. `$$` writes a literal `$`; a lone `$` stays as it is.
public enum SecretExpansion {
    public enum Failure: Equatable, Sendable {
        case unset(String)
        case unterminated
        case badName(String)
    }

    /// The expanded text, or every problem found in it.
    public static func expand(_ text: String, lookup: (String) -> String?) -> Result<String, ExpansionErrors> {
        var out = ""
        var failures: [Failure] = []
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            guard c == "$", next < text.endIndex else {
                out.append(c)
                i = next
                continue
            }
            if text[next] == "$" {
                out.append("$")
                i = text.index(after: next)
            } else if text[next] == "{" {
                guard let close = text[next...].firstIndex(of: "}") else {
                    failures.append(.unterminated)
                    break
                }
                let name = String(text[text.index(after: next)..<close])
                if !EnvName.isValid(name) {
                    failures.append(.badName(name))
                } else if let value = lookup(name) {
                    out += value
                } else {
                    failures.append(.unset(name))
                }
                i = text.index(after: close)
            } else {
                out.append(c)
                i = next
            }
        }
        return failures.isEmpty ? .success(out) : .failure(ExpansionErrors(failures: failures))
    }

    /// The names `${…}` refers to, for checks that only need to know what is missing.
    public static func references(in text: String) -> [String] {
        var names: [String] = []
        _ = expand(text) { names.append($0); return "" }
        return names
    }
}

public struct ExpansionErrors: Error, Equatable, Sendable {
    public var failures: [SecretExpansion.Failure]
}
