/// `.devmesh/state.json`: how the CLI finds a running stack, and how the next `up` cleans up
/// after a devmesh that was killed without stopping its children.
public struct StackState: Sendable, Codable, Equatable {
    public var version: Int = 1
    /// devmesh's pid, and its start time (clock ticks since boot, `/proc/<pid>/stat` field 22) so a
    /// reused pid is never mistaken for it.
    public var pid: Int32
    public var pidStartTime: UInt64?
    public var root: String
    /// Seconds since the Unix epoch.
    public var startedAt: Double
    /// Sent as `X-Devmesh-Token` on requests that change the stack; the file is 0600.
    public var token: String
    public var ports: Ports
    public var children: [Child]

    public struct Ports: Sendable, Codable, Equatable {
        public var admin: Int
        /// Each service's stable port.
        public var services: [String: Int]
        /// Each replica's private port (the app's `$PORT`), by instance id.
        public var replicas: [String: Int]
        /// Each replica's inbound sidecar, by instance id.
        public var inbound: [String: Int]
        /// Each egress listener, by `caller->upstream`.
        public var egress: [String: Int]
        /// The gateway's `https` and `http` ports (absent without a gateway).
        public var gateway: [String: Int]?
        /// OTLP/HTTP ingest.
        public var otlp: Int?

        public init(admin: Int, services: [String: Int] = [:], replicas: [String: Int] = [:],
                    inbound: [String: Int] = [:], egress: [String: Int] = [:], gateway: [String: Int]? = nil, otlp: Int? = nil) {
            self.gateway = gateway
            self.otlp = otlp
            self.admin = admin
            self.services = services
            self.replicas = replicas
            self.inbound = inbound
            self.egress = egress
        }
    }

    /// A child process group devmesh started.
    public struct Child: Sendable, Codable, Equatable {
        public var instance: String
        public var pid: Int32
        /// Start time in clock ticks since boot, as for `pidStartTime`.
        public var startTime: UInt64?

        public init(instance: String, pid: Int32, startTime: UInt64?) {
            self.instance = instance
            self.pid = pid
            self.startTime = startTime
        }
    }

    public init(pid: Int32, pidStartTime: UInt64?, root: String, startedAt: Double, token: String, ports: Ports, children: [Child] = []) {
        self.pid = pid
        self.pidStartTime = pidStartTime
        self.root = root
        self.startedAt = startedAt
        self.token = token
        self.ports = ports
        self.children = children
    }

    public var adminURL: String { "http://127.0.0.1:\(ports.admin)" }
}
