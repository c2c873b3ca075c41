/// A span as the store keeps it and the CLI, API and exporter see it: the sidecars' spans and the
/// spans apps send over OTLP, in one model (OpenTelemetry's, minus links).
public struct TelemetrySpan: Sendable, Equatable, Codable {
    public var traceID: String
    public var spanID: String
    public var parentSpanID: String?
    /// `service.name`.
    public var service: String
    /// `service.instance.id`, e.g. `users.1`.
    public var instance: String?
    public var kind: SpanRecord.Kind
    public var name: String
    /// Unix time in nanoseconds.
    public var startNanos: UInt64
    public var durationNanos: UInt64
    public var status: SpanRecord.Status
    public var statusMessage: String?
    public var attributes: [String: AttributeValue]
    public var events: [SpanEvent]
    /// Resource attributes other than `service.name` and `service.instance.id`.
    public var resource: [String: AttributeValue]
    /// The instrumentation scope (`devmesh` for sidecar spans).
    public var scope: String?

    public init(traceID: String, spanID: String, parentSpanID: String?, service: String, instance: String?,
                kind: SpanRecord.Kind, name: String, startNanos: UInt64, durationNanos: UInt64,
                status: SpanRecord.Status, statusMessage: String? = nil, attributes: [String: AttributeValue] = [:],
                events: [SpanEvent] = [], resource: [String: AttributeValue] = [:], scope: String? = nil) {
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
        self.statusMessage = statusMessage
        self.attributes = attributes
        self.events = events
        self.resource = resource
        self.scope = scope
    }

    public init(_ span: SpanRecord) {
        self.init(traceID: span.traceID, spanID: span.spanID, parentSpanID: span.parentSpanID, service: span.service,
                  instance: span.instance, kind: span.kind, name: span.name, startNanos: span.startNanos,
                  durationNanos: span.durationNanos, status: span.status,
                  attributes: span.attributes.mapValues { .string($0) }, scope: "devmesh")
    }

    public var endNanos: UInt64 { startNanos &+ durationNanos }
    public var isError: Bool { status == .error }
}

/// A timed annotation on a span (an exception, a retry…).
public struct SpanEvent: Sendable, Equatable, Codable {
    public var name: String
    public var timeNanos: UInt64
    public var attributes: [String: AttributeValue]

    public init(name: String, timeNanos: UInt64, attributes: [String: AttributeValue] = [:]) {
        self.name = name
        self.timeNanos = timeNanos
        self.attributes = attributes
    }
}
