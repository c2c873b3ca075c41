/// An exchange as a proxy captured it for recording, before redaction: heads as they arrived and
/// the first bytes of each body as they crossed the wire (still chunk-framed when `chunked`).
/// It is made on an event loop and finished (de-chunked, redacted) on the store's writer thread,
/// so recording costs the data plane a copy of at most `limit` bytes a side.
public struct CapturedExchange: Sendable {
    public struct Side: Sendable {
        public var headers: [(name: String, value: String)] = []
        /// The first bytes on the wire (at most the capture's limit).
        public var wire: [UInt8] = []
        /// All body bytes seen on the wire, kept or not.
        public var wireSize = 0
        /// The body was sent with `Transfer-Encoding: chunked`: `wire` holds the framing too.
        public var chunked = false

        public init(headers: [(name: String, value: String)] = [], wire: [UInt8] = [], wireSize: Int? = nil, chunked: Bool = false) {
            self.headers = headers
            self.wire = wire
            self.wireSize = wireSize ?? wire.count
            self.chunked = chunked
        }

        public var truncated: Bool { wireSize > wire.count }
    }

    public var timeNanos: UInt64
    public var traceID: String
    public var spanID: String
    public var service: String
    public var listener: String
    public var source: String?
    public var method: String
    public var target: String
    public var request: Side
    /// nil when no response came.
    public var status: Int?
    public var response: Side
    public var durationNanos: UInt64
    /// `redact: false` on the route or service (local-only data): stored as captured.
    public var redact: Bool
    /// Values known to be secret that the capture does not show as such — an ambassador's
    /// injected credentials, which an external may echo: replaced by markers wherever they occur.
    public var knownSecrets: [String] = []

    public init(timeNanos: UInt64, traceID: String, spanID: String, service: String, listener: String, source: String?,
                method: String, target: String, request: Side, status: Int?, response: Side, durationNanos: UInt64, redact: Bool) {
        self.timeNanos = timeNanos
        self.traceID = traceID
        self.spanID = spanID
        self.service = service
        self.listener = listener
        self.source = source
        self.method = method
        self.target = target
        self.request = request
        self.status = status
        self.response = response
        self.durationNanos = durationNanos
        self.redact = redact
    }

    /// What the capture holds in memory, for the store's queue bound.
    public var byteCount: Int { request.wire.count + response.wire.count + 512 }
}

/// Turns a capture into the stored recording (de-chunking, redaction): runs on the writer thread.
public protocol ExchangeFinishing: Sendable {
    func finish(_ capture: CapturedExchange) -> RecordedExchange
    /// A request target with secret query parameters replaced, for spans (the same markers).
    func redact(target: String) -> String
}
