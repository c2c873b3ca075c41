/// One recorded request and its response (record/replay), already redacted: what the gateway or
/// an inbound sidecar saw, with bodies up to the recording cap (`truncated` says when a body was
/// longer; `size` is its full length).
public struct RecordedExchange: Sendable, Equatable {
    public struct Message: Sendable, Equatable {
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        /// The whole body's length, even when only the first bytes were kept.
        public var size: Int
        public var truncated: Bool { size > body.count }

        public init(headers: [(name: String, value: String)] = [], body: [UInt8] = [], size: Int? = nil) {
            self.headers = headers
            self.body = body
            self.size = size ?? body.count
        }

        public static func == (a: Message, b: Message) -> Bool {
            a.body == b.body && a.size == b.size
                && a.headers.map { $0.name + "\u{1}" + $0.value } == b.headers.map { $0.name + "\u{1}" + $0.value }
        }
    }

    /// Set once stored.
    public var id: Int64?
    public var timeNanos: UInt64
    public var traceID: String
    public var spanID: String
    /// The service whose sidecar recorded it, or `devmesh-gateway`.
    public var service: String
    public var listener: String
    /// The caller: its mTLS principal, or the client's address at the edge.
    public var source: String?
    public var method: String
    public var target: String
    public var request: Message
    /// nil when no response came (the upstream failed).
    public var status: Int?
    public var response: Message
    public var durationNanos: UInt64
    /// How many values the redactor replaced.
    public var redactions: Int
    /// False for a `redact: false` route or service: stored as captured.
    public var redacted: Bool

    public init(id: Int64? = nil, timeNanos: UInt64, traceID: String, spanID: String, service: String, listener: String,
                source: String? = nil, method: String, target: String, request: Message, status: Int?, response: Message,
                durationNanos: UInt64, redactions: Int = 0, redacted: Bool = true) {
        self.id = id
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
        self.redactions = redactions
        self.redacted = redacted
    }
}

/// Which recordings to list, newest first.
public struct RecordingFilter: Sendable, Equatable {
    public var service: String?
    /// A path prefix.
    public var path: String?
    public var sinceNanos: UInt64?
    public var limit: Int

    public init(service: String? = nil, path: String? = nil, sinceNanos: UInt64? = nil, limit: Int = 50) {
        self.service = service
        self.path = path
        self.sinceNanos = sinceNanos
        self.limit = limit
    }
}
