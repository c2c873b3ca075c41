import DevMeshCore
import DevMeshSupervisor

/// Turns a validated config into a supervision plan: which services run, on which ports, with
/// which environment.
public struct StackPlanner: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public var hint: String?
    }

    public var loaded: LoadedConfig
    public var environment: [String: String]
    public var isPortFree: @Sendable (Int) -> Bool
    public var freePorts: @Sendable (Int, Set<Int>) throws -> [Int]

    public init(loaded: LoadedConfig, environment: [String: String],
                isPortFree: @escaping @Sendable (Int) -> Bool = PortAllocator.isFree,
                freePorts: @escaping @Sendable (Int, Set<Int>) throws -> [Int] = PortAllocator.freePorts) {
        self.loaded = loaded
        self.environment = environment
        self.isPortFree = isPortFree
        self.freePorts = freePorts
    }

    /// The services `up SERVICE...` runs: those named, plus everything they need or call.
    public static func select(_ names: [String], from config: StackConfig) throws -> [ServiceConfig] {
        guard !names.isEmpty else { return config.services }
        let known = config.services.map(\.name)
        for name in names where !known.contains(name) {
            throw Failure(
                description: "no service `\(name)` in this stack",
                hint: Suggestion.closest(to: name, in: known).map { "did you mean `\($0)`?" } ?? "services: \(known.joined(separator: ", "))")
        }
        let serviceNames = Set(known)
        let calls = Dictionary(config.services.map { ($0.name, $0.upstreams.filter(serviceNames.contains)) }, uniquingKeysWith: { a, _ in a })
        let closure = DependencyGraph(config.services).closure(of: names, extra: calls)
        return config.services.filter { closure.contains($0.name) }
    }

    /// Ports are assigned here: explicit `port:` values must be free, the rest are picked free.
    /// Until the sidecar exists, a single-replica service's app listens on the service port itself.
    public func plan(services: [ServiceConfig], reserved: Set<Int>) throws -> SupervisionPlan {
        guard let config = loaded.config else { throw Failure(description: "no usable config") }
        var taken = reserved
        for s in services {
            if let p = s.port {
                guard isPortFree(p) else {
                    throw Failure(description: "port \(p) of service `\(s.name)` is taken by another process",
                                  hint: "stop what listens there (`ss -ltnp 'sport = :\(p)'` shows it), or change `port:` in devmesh.yaml")
                }
                taken.insert(p)
            }
        }
        var servicePorts: [String: Int] = [:]
        var replicaPorts: [String: [Int]] = [:]
        for s in services {
            if s.replicas == 1, let p = s.port {
                servicePorts[s.name] = p
                replicaPorts[s.name] = [p]
                continue
            }
            let needed = s.replicas + (s.replicas > 1 && s.port == nil ? 1 : 0)
            let ports = try freePorts(needed, taken)
            taken.formUnion(ports)
            replicaPorts[s.name] = Array(ports.prefix(s.replicas))
            servicePorts[s.name] = s.port ?? (s.replicas == 1 ? ports[0] : ports[s.replicas])
        }
        // Until sidecars exist, `<NAME>_URL` points straight at the upstream's first replica.
        var urls: [String: String] = [:]
        for s in config.services where s.protocol != .none {
            if let first = replicaPorts[s.name]?.first { urls[s.name] = "http://127.0.0.1:\(first)" }
        }
        let builder = ProcessEnvironment(inherited: environment, stackEnvFile: loaded.stackEnvFile, serviceEnvFiles: loaded.serviceEnvFiles)
        var replicas: [SupervisionPlan.Replica] = []
        for s in services {
            for (i, port) in (replicaPorts[s.name] ?? []).enumerated() {
                let env: [String: String]
                do {
                    env = try builder.build(service: s, replica: i + 1, port: port, upstreamURLs: urls)
                } catch {
                    throw Failure(description: "service `\(s.name)`: an `env` value uses a variable that is not set",
                                  hint: "run `devmesh check` to see which")
                }
                replicas.append(SupervisionPlan.Replica(
                    service: s, index: i + 1, port: port,
                    command: ProcessEnvironment.expandPort(in: s.run, port: port), environment: env))
            }
        }
        return SupervisionPlan(root: config.root, services: services, servicePorts: servicePorts, replicas: replicas)
    }
}
