import DevMeshCore

/// Everything the supervisor needs to run a stack, decided beforehand: which services, which
/// ports, which environment. Built by the app layer from the config.
public struct SupervisionPlan: Sendable {
    public struct Replica: Sendable {
        public var service: ServiceConfig
        /// 1-based replica number.
        public var index: Int
        /// The app's private port, `$PORT`.
        public var port: Int
        /// The command with `$PORT` expanded, run with `/bin/sh -c`.
        public var command: String
        public var environment: [String: String]

        public var instanceID: String { "\(service.name).\(index)" }

        public init(service: ServiceConfig, index: Int, port: Int, command: String, environment: [String: String]) {
            self.service = service
            self.index = index
            self.port = port
            self.command = command
            self.environment = environment
        }
    }

    /// The folder commands run in.
    public var root: String
    /// Services to run, in declaration order.
    public var services: [ServiceConfig]
    /// Each service's stable port.
    public var servicePorts: [String: Int]
    public var replicas: [Replica]

    public init(root: String, services: [ServiceConfig], servicePorts: [String: Int], replicas: [Replica]) {
        self.root = root
        self.services = services
        self.servicePorts = servicePorts
        self.replicas = replicas
    }
}
