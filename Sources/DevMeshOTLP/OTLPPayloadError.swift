/// Why an OTLP request was refused (400): what is wrong, in words an SDK's user can act on.
public struct OTLPPayloadError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Bounds on untrusted OTLP input: a request may not make devmesh allocate without limit.
public struct OTLPLimits: Sendable, Equatable {
    /// The request body as received (compressed or not).
    public var maxBodyBytes = 8 * 1024 * 1024
    /// The body after gunzip (a gzip bomb stops here).
    public var maxDecompressedBytes = 32 * 1024 * 1024
    /// Spans (or log records) in one request.
    public var maxItems = 50_000
    /// Attributes on one span, event, log or resource (the rest are dropped, as SDKs do).
    public var maxAttributes = 128
    /// A string attribute value or log body, in bytes (longer ones are cut).
    public var maxValueBytes = 16 * 1024
    /// Events on one span.
    public var maxEvents = 128
    /// How deep arrays and maps may nest inside an attribute.
    public var maxDepth = 8

    public init() {}
}
