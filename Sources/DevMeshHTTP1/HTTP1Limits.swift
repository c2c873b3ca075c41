/// Size limits for what a peer may send. Defaults are the hardening defaults of docs/proxy.md.
public struct HTTP1Limits: Sendable, Equatable {
    /// Longest request line (method, target, version); longer is 414.
    public var maxRequestLineLength = 8 * 1024
    /// Largest header section (all field lines); larger is 431.
    public var maxHeaderBytes = 60 * 1024
    /// Most field lines in a header section; more is 431.
    public var maxHeaderCount = 100
    /// Longest chunk-size line including extensions; longer is 400.
    public var maxChunkLineLength = 4 * 1024
    /// Largest trailer section of a chunked body; larger is 400.
    public var maxTrailerBytes = 16 * 1024

    public init() {}
}
