/// One line of `devmesh traces`: a trace as a whole, described by its root span.
public struct TraceSummary: Sendable, Equatable, Codable {
    public var traceID: String
    /// Unix time in nanoseconds of the earliest span.
    public var startNanos: UInt64
    /// From the earliest start to the latest end of its spans.
    public var durationNanos: UInt64
    public var spanCount: Int
    public var errorCount: Int
    /// The root span (the one without a parent; the earliest when the root was never seen).
    public var rootService: String
    public var rootName: String
    public var method: String?
    public var path: String?
    public var statusCode: Int?
    /// Every service with a span in the trace, sorted.
    public var services: [String]

    public init(traceID: String, startNanos: UInt64, durationNanos: UInt64, spanCount: Int, errorCount: Int,
                rootService: String, rootName: String, method: String?, path: String?, statusCode: Int?, services: [String]) {
        self.traceID = traceID
        self.startNanos = startNanos
        self.durationNanos = durationNanos
        self.spanCount = spanCount
        self.errorCount = errorCount
        self.rootService = rootService
        self.rootName = rootName
        self.method = method
        self.path = path
        self.statusCode = statusCode
        self.services = services
    }
}

/// `devmesh trace ID`: every span of one trace and the log lines tied to it.
public struct TraceDetail: Sendable, Equatable, Codable {
    public var traceID: String
    public var spans: [TelemetrySpan]
    public var logs: [TelemetryLog]

    public init(traceID: String, spans: [TelemetrySpan], logs: [TelemetryLog]) {
        self.traceID = traceID
        self.spans = spans
        self.logs = logs
    }
}

/// The filters of `devmesh traces` (and the API's `/api/v1/traces`).
public struct TraceFilter: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        /// Any span failed.
        case error
        /// The root span's HTTP status.
        case code(Int)
    }

    /// A span attribute that some span of the trace must carry, compared as text (`http.route=/users/{id}`).
    public struct AttributeMatch: Sendable, Equatable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Traces with a span from this service.
    public var service: String?
    /// The root path: a prefix (`/users`) or a glob (`/users/*/orders`).
    public var path: String?
    public var status: Status?
    public var minDurationNanos: UInt64?
    public var maxDurationNanos: UInt64?
    /// Unix nanoseconds: traces that started at or after.
    public var sinceNanos: UInt64?
    /// Unix nanoseconds: traces that started before.
    public var untilNanos: UInt64?
    /// Every one must match (a span each, not necessarily the same span).
    public var attributes: [AttributeMatch]
    public var limit: Int

    public init(service: String? = nil, path: String? = nil, status: Status? = nil, minDurationNanos: UInt64? = nil,
                maxDurationNanos: UInt64? = nil, sinceNanos: UInt64? = nil, untilNanos: UInt64? = nil,
                attributes: [AttributeMatch] = [], limit: Int = 50) {
        self.service = service
        self.path = path
        self.status = status
        self.minDurationNanos = minDurationNanos
        self.maxDurationNanos = maxDurationNanos
        self.sinceNanos = sinceNanos
        self.untilNanos = untilNanos
        self.attributes = attributes
        self.limit = limit
    }

    /// `error`, or an HTTP status code 100–599.
    public static func parseStatus(_ text: String) -> Status? {
        if text.lowercased() == "error" { return .error }
        if let code = Int(text), (100...599).contains(code) { return .code(code) }
        return nil
    }
}

/// The filters of `devmesh logs` (and the API's `/api/v1/logs`).
public struct LogFilter: Sendable, Equatable {
    public var services: [String]
    /// A substring of the line (case-insensitive).
    public var grep: String?
    public var traceID: String?
    public var sinceNanos: UInt64?
    /// Lines stored after this id (`-f` follows with the last id it printed).
    public var afterID: Int64?
    /// The newest `limit` lines (oldest first), or the first `limit` after `afterID`.
    public var limit: Int

    public init(services: [String] = [], grep: String? = nil, traceID: String? = nil, sinceNanos: UInt64? = nil,
                afterID: Int64? = nil, limit: Int = 200) {
        self.services = services
        self.grep = grep
        self.traceID = traceID
        self.sinceNanos = sinceNanos
        self.afterID = afterID
        self.limit = limit
    }
}
