/// POSIX shell quoting for the commands and `export` lines devmesh prints for people to paste.
public enum ShellQuote {
    /// `word` as one shell word: unchanged when it is plainly safe, else in single quotes.
    public static func quote(_ word: String) -> String {
        let safe = !word.isEmpty && word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-+:=@%,".contains($0)) }
        if safe { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `words` as one command line.
    public static func command(_ words: [String]) -> String {
        words.map(quote).joined(separator: " ")
    }
}
