extension StringProtocol {
    /// The lines of a text file, numbered as editors and YAML number them: `\n`, `\r\n` and a lone
    /// `\r` each end a line. (Swift treats `\r\n` as one character, so splitting on `"\n"` would
    /// miss every line of a file saved with Windows line endings.)
    public var sourceLines: [SubSequence] {
        split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
    }
}
