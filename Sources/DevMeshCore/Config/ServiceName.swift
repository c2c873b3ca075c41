/// DNS-1123 labels: the rule for service and external names (they become host names and env var names).
public enum ServiceName {
    public static let maxLength = 63

    public static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= maxLength else { return false }
        let scalars = Array(name.unicodeScalars)
        for s in scalars where !(("a"..."z").contains(s) || ("0"..."9").contains(s) || s == "-") {
            return false
        }
        return scalars.first != "-" && scalars.last != "-"
    }

    /// A valid name close to `name`: lower-cased, other characters turned into `-`, trimmed.
    public static func suggestion(for name: String) -> String {
        var out = ""
        for s in name.lowercased().unicodeScalars {
            if ("a"..."z").contains(s) || ("0"..."9").contains(s) {
                out.unicodeScalars.append(s)
            } else if !out.hasSuffix("-") {
                out += "-"
            }
        }
        out = String(out.prefix(maxLength))
        while out.hasPrefix("-") { out.removeFirst() }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "service" : out
    }

    /// The `<NAME>_URL` variable for an upstream: upper-cased, `-` → `_`.
    public static func urlVariable(for name: String) -> String {
        name.uppercased().replacingAll("-", with: "_") + "_URL"
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

/// "Did you mean" for unknown keys and names: the closest candidate within a small edit distance.
public enum Suggestion {
    public static func closest(to word: String, in candidates: [String]) -> String? {
        var best: (String, Int)?
        for c in candidates {
            let d = editDistance(word.lowercased(), c.lowercased())
            if d <= max(2, word.count / 3), best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}
