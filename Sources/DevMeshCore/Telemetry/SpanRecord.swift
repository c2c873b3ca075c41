/// One span, as the sidecars record it (OpenTelemetry's model, trimmed to what devmesh uses).
public struct SpanRecord: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case server
        case client
        case `internal`
        case producer
        case consumer

        /// OpenTelemetry's `SpanKind` number (OTLP): 1 internal … 5 consumer.
        public var otlpNumber: Int {
            switch self {
            case .internal: return 1
            case .server: return 2
            case .client: return 3
            case .producer: return 4
            case .consumer: return 5
            }
        }

        /// Unspecified (0) and unknown numbers are `internal`, as the OTLP spec says.
        public init(otlpNumber: Int) {
            switch otlpNumber {
            case 2: self = .server
            case 3: self = .client
            case 4: self = .producer
            case 5: self = .consumer
            default: self = .internal
            }
        }
    }

    public enum Status: String, Sendable, Codable {
        case unset
        case ok
        case error
    }

    public var traceID: String
    public var spanID: String
    public var parentSpanID: String?
    /// `service.name` (the service whose sidecar recorded it).
    public var service: String
    /// `service.instance.id`, e.g. `users.1`.
    public var instance: String?
    public var kind: Kind
    public var name: String
    /// Unix time in nanoseconds.
    public var startNanos: UInt64
    public var durationNanos: UInt64
    public var status: Status
    /// OpenTelemetry semantic-convention attributes (`http.request.method`, `url.path`, …).
    public var attributes: [String: String]

    public init(traceID: String, spanID: String, parentSpanID: String?, service: String, instance: String?,
                kind: Kind, name: String, startNanos: UInt64, durationNanos: UInt64, status: Status,
                attributes: [String: String]) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.service = service
        self.instance = instance
        self.kind = kind
        self.name = name
        self.startNanos = startNanos
        self.durationNanos = durationNanos
        self.status = status
        self.attributes = attributes
    }
}

/// One access-log record per request (JSON lines).
public struct AccessLogRecord: Sendable, Equatable, Codable {
    /// Unix time in seconds.
    public var time: Double
    /// The listener that served it: `inbound`, `egress` or `service`.
    public var listener: String
    public var service: String
    public var instance: String?
    /// The caller, when known (egress listeners know it).
    public var source: String?
    public var method: String
    public var path: String
    public var status: Int
    public var durationMillis: Double
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var upstream: String?
    public var traceID: String
    public var spanID: String
    /// Why devmesh itself failed the request (`x-devmesh-error`), if it did.
    public var error: String?
    public var attempts: Int
    /// Who a gateway route's `auth` found the caller to be: `key NAME` or `user NAME`.
    public var caller: String?

    public init(time: Double, listener: String, service: String, instance: String?, source: String?, method: String,
                path: String, status: Int, durationMillis: Double, bytesIn: UInt64, bytesOut: UInt64, upstream: String?,
                traceID: String, spanID: String, error: String?, attempts: Int, caller: String? = nil) {
        self.caller = caller
        self.time = time
        self.listener = listener
        self.service = service
        self.instance = instance
        self.source = source
        self.method = method
        self.path = path
        self.status = status
        self.durationMillis = durationMillis
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.upstream = upstream
        self.traceID = traceID
        self.spanID = spanID
        self.error = error
        self.attempts = attempts
    }
}

/// Where sidecars send spans and access records. Called on event loops: implementations must
/// never block — they queue (bounded) and drop, counting what they dropped.
public protocol TelemetrySink: Sendable {
    func record(span: SpanRecord)
    func record(access: AccessLogRecord)
    /// One proxied request; sinks that can, keep the compact record and convert it later.
    func record(hop: HopRecord)
    /// Whether anything is recorded at all (so a sidecar can skip building records).
    var isEnabled: Bool { get }
    /// A captured exchange for record/replay; sinks that do not store recordings drop it.
    func record(capture: CapturedExchange)
    /// True while whatever is recorded now would be dropped (overload): a sidecar then skips
    /// making the records and only calls `recordSkipped()`, which counts them as dropped.
    var isSaturated: Bool { get }
    func recordSkipped()
}

extension TelemetrySink {
    public func record(hop: HopRecord) {
        record(span: hop.span())
        record(access: hop.access())
    }

    public var isEnabled: Bool { true }

    public func record(capture: CapturedExchange) {}

    public var isSaturated: Bool { false }

    public func recordSkipped() {}
}

/// Discards everything (telemetry off).
public struct NullTelemetrySink: TelemetrySink {
    public init() {}
    public func record(span: SpanRecord) {}
    public func record(access: AccessLogRecord) {}
    public func record(hop: HopRecord) {}
    public var isEnabled: Bool { false }
}
