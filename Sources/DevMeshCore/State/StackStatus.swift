/// A snapshot of the running stack, as `devmesh status` and the JSON API show it.
public struct StackStatus: Sendable, Codable, Equatable {
    public var pid: Int32
    public var root: String
    /// Seconds since the Unix epoch.
    public var startedAt: Double
    public var adminURL: String
    public var services: [ServiceStatus]
    /// Spans and access records the sidecars made: written, and dropped under overload.
    public var telemetry: TelemetryCounters?
    /// The gateway's usage since `up`, per route and caller (nil without a gateway).
    public var gateway: GatewayUsageReport?

    public init(pid: Int32, root: String, startedAt: Double, adminURL: String, services: [ServiceStatus],
                telemetry: TelemetryCounters? = nil, gateway: GatewayUsageReport? = nil) {
        self.gateway = gateway
        self.pid = pid
        self.root = root
        self.startedAt = startedAt
        self.adminURL = adminURL
        self.services = services
        self.telemetry = telemetry
    }
}

/// Telemetry is best effort (PRODUCT.md, "Durability"): what was kept, and what was dropped so
/// that traffic never slowed down.
public struct TelemetryCounters: Sendable, Codable, Equatable {
    /// Spans and log records stored.
    public var recorded: Int
    /// Best-effort records dropped (a full queue, a failed write).
    public var dropped: Int
    public var spans: Int?
    public var logs: Int?
    /// OTLP requests answered 503 because the store's queue was full.
    public var otlpRejected: Int?
    /// Spans and logs the OTLP exporter could not deliver (`telemetry.otlp_export`).
    public var exportDropped: Int?
    /// The last error writing the store, if any.
    public var lastError: String?

    public init(recorded: Int, dropped: Int, spans: Int? = nil, logs: Int? = nil, otlpRejected: Int? = nil,
                exportDropped: Int? = nil, lastError: String? = nil) {
        self.recorded = recorded
        self.dropped = dropped
        self.spans = spans
        self.logs = logs
        self.otlpRejected = otlpRejected
        self.exportDropped = exportDropped
        self.lastError = lastError
    }
}

public struct ServiceStatus: Sendable, Codable, Equatable {
    public var name: String
    /// The stable port of the service (its listener, or its single app until the sidecar exists).
    public var port: Int?
    public var `protocol`: String
    public var replicas: [ReplicaStatus]

    public init(name: String, port: Int?, protocol: String, replicas: [ReplicaStatus]) {
        self.name = name
        self.port = port
        self.protocol = `protocol`
        self.replicas = replicas
    }
}

public struct ReplicaStatus: Sendable, Codable, Equatable {
    public var instance: String
    public var pid: Int32?
    /// The app's private port (`$PORT`).
    public var port: Int
    public var state: ReplicaLifecycle.State
    /// "healthy", "unhealthy", "unknown", or "none" (no health check).
    public var health: String
    public var restarts: Int
    /// Seconds the current process has been running.
    public var uptime: Double?
    public var lastExit: String?

    public init(instance: String, pid: Int32?, port: Int, state: ReplicaLifecycle.State, health: String, restarts: Int, uptime: Double?, lastExit: String?) {
        self.instance = instance
        self.pid = pid
        self.port = port
        self.state = state
        self.health = health
        self.restarts = restarts
        self.uptime = uptime
        self.lastExit = lastExit
    }
}

/// What the CLI may ask of one service.
public enum ServiceCommand: String, Sendable, Codable, CaseIterable {
    case restart
    case stop
    case start
}

/// The running stack as the admin API sees it. Implemented in App, used by API: the two meet here.
public protocol StackControl: Sendable {
    func status() async -> StackStatus
    /// Throws `StackControlError.unknownService` for a name that is not in the running stack.
    func perform(_ command: ServiceCommand, service: String) async throws
    /// Stops every service and then devmesh itself.
    func shutdown() async
}

public enum StackControlError: Error, Equatable, Sendable {
    case unknownService(String, known: [String])
}
