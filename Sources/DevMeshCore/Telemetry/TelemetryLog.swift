/// A log record as the store keeps it: a line an app printed (tied to a trace when it names one),
/// devmesh's own messages, and log records apps send over OTLP.
public struct TelemetryLog: Sendable, Equatable, Codable {
    /// The store's row id: increasing, so `logs -f` asks for what came after the last it saw.
    public var id: Int64?
    /// Unix time in nanoseconds.
    public var timeNanos: UInt64
    public var service: String
    public var instance: String?
    /// `stdout`, `stderr`, `devmesh`, `access` or `otlp`.
    public var stream: String
    /// OpenTelemetry's severity text (`INFO`, `ERROR`…), when known.
    public var severity: String?
    public var body: String
    public var traceID: String?
    public var spanID: String?
    public var attributes: [String: AttributeValue]

    public init(id: Int64? = nil, timeNanos: UInt64, service: String, instance: String?, stream: String,
                severity: String? = nil, body: String, traceID: String? = nil, spanID: String? = nil,
                attributes: [String: AttributeValue] = [:]) {
        self.id = id
        self.timeNanos = timeNanos
        self.service = service
        self.instance = instance
        self.stream = stream
        self.severity = severity
        self.body = body
        self.traceID = traceID
        self.spanID = spanID
        self.attributes = attributes
    }

    /// A line devmesh read from a child (or wrote itself), tied to the trace it names, if any.
    public init(_ line: LogLine) {
        let reference = TraceReference.find(in: line.text)
        var severity: String?
        switch line.severity {
        case .warning?: severity = "WARN"
        case .error?: severity = "ERROR"
        case nil: severity = nil
        }
        if severity == nil, let level = reference?.level { severity = level.uppercased() }
        self.init(timeNanos: UInt64(max(0, line.timestamp) * 1e9), service: line.service,
                  instance: line.instance, stream: line.stream.rawValue, severity: severity, body: line.text,
                  traceID: reference?.traceID, spanID: reference?.spanID)
    }
}
