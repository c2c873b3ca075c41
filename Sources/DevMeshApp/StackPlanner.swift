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
    /// CA trust for every child (`SSL_CERT_FILE`, …; PRODUCT.md), unless its own `env` sets one.
    public var trustEnvironment: [String: String] = [:]
    /// `up --https-port/--http-port`: override `gateway.https_port/http_port`.
    public var gatewayPortOverrides: (https: Int?, http: Int?) = (nil, nil)
    /// `up --otlp-port`: overrides `telemetry.otlp_port`.
    public var otlpPortOverride: Int?

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
    /// `http` and `tcp` services get the sidecar layout of PRODUCT.md: the app on a private
    /// `$PORT`, an inbound sidecar per replica, a service listener on `port:`, and each caller an
    /// egress listener per upstream (its `<NAME>_URL`, `tcp://` for tcp). `none` services have no
    /// sidecar: a single-replica app listens on `port:` itself.
    public func plan(services: [ServiceConfig], reserved: Set<Int>) throws -> MeshPlan {
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
        func take(_ n: Int) throws -> [Int] {
            let ports = try freePorts(n, taken)
            taken.formUnion(ports)
            return ports
        }
        var plan = MeshPlan()
        plan.mtls = config.mtls
        // The gateway: explicit ports must be free; a taken default moves to a free port.
        if services.contains(where: { $0.protocol == .http }) {
            func gatewayPort(_ explicit: Int?, default fallback: Int, what: String, key: String, flag: String) throws -> Int {
                if let explicit {
                    guard !taken.contains(explicit), isPortFree(explicit) else {
                        throw Failure(description: "the gateway's \(what) port \(explicit) is taken",
                                      hint: "free it, or choose another with `\(flag)` or `gateway.\(key)`")
                    }
                    taken.insert(explicit)
                    return explicit
                }
                if !taken.contains(fallback), isPortFree(fallback) {
                    taken.insert(fallback)
                    return fallback
                }
                let port = try take(1)[0]
                plan.notices.append("port \(fallback) is taken; the gateway's \(what) port is \(port) instead")
                return port
            }
            let explicitHTTPS = gatewayPortOverrides.https ?? config.gateway.httpsPort
            let explicitHTTP = gatewayPortOverrides.http ?? config.gateway.httpPort
            let https = try gatewayPort(explicitHTTPS, default: GatewayConfig.defaultHTTPSPort,
                                        what: "HTTPS", key: "https_port", flag: "--https-port")
            let http = try gatewayPort(explicitHTTP, default: GatewayConfig.defaultHTTPPort,
                                       what: "HTTP", key: "http_port", flag: "--http-port")
            plan.gateway = .init(httpsPort: https, httpPort: http, config: config.gateway,
                                 services: services.filter { $0.protocol == .http }.map(\.name),
                                 portsAreExplicit: (explicitHTTPS != nil, explicitHTTP != nil))
        }
        // OTLP/HTTP ingest: an explicit port must be free; a taken default moves to a free port.
        if let explicit = otlpPortOverride ?? config.telemetry.otlpPort {
            guard !taken.contains(explicit), isPortFree(explicit) else {
                throw Failure(description: "the OTLP port \(explicit) is taken",
                              hint: "free it, or choose another with `--otlp-port` or `telemetry.otlp_port`")
            }
            taken.insert(explicit)
            plan.otlpPort = explicit
            plan.otlpPortIsExplicit = true
        } else if !taken.contains(TelemetryConfig.defaultOTLPPort), isPortFree(TelemetryConfig.defaultOTLPPort) {
            taken.insert(TelemetryConfig.defaultOTLPPort)
            plan.otlpPort = TelemetryConfig.defaultOTLPPort
        } else {
            plan.otlpPort = try take(1)[0]
            plan.notices.append("port \(TelemetryConfig.defaultOTLPPort) is taken; OTLP ingest is on port \(plan.otlpPort) instead")
        }
        var appPorts: [String: [Int]] = [:]
        for s in services {
            if s.protocol == .http || s.protocol == .tcp {
                let apps = try take(s.replicas)
                let inbound = try take(s.replicas)
                appPorts[s.name] = apps
                // `mtls: strict` closes service listeners: outside traffic enters through the gateway.
                if config.mtls != .strict {
                    let servicePort = try s.port ?? take(1)[0]
                    plan.servicePorts[s.name] = servicePort
                    plan.listeners.append(.init(role: .service, port: servicePort, service: s.name, target: .sidecarsOf(s.name), callee: s))
                }
                for (i, port) in inbound.enumerated() {
                    let instance = "\(s.name).\(i + 1)"
                    plan.inboundPorts[instance] = port
                    plan.listeners.append(.init(role: .inbound, port: port, service: s.name, instance: instance,
                                                target: .app(instance: instance, port: apps[i]), callee: s))
                }
            } else if s.replicas == 1, let p = s.port {
                appPorts[s.name] = [p]
                plan.servicePorts[s.name] = p
            } else {
                let apps = try take(s.replicas)
                appPorts[s.name] = apps
                if s.protocol == .tcp { plan.servicePorts[s.name] = s.port ?? apps[0] }
            }
        }
        // Each external: an ambassador on a private port behind an inbound sidecar of its own
        // (workload `external-<name>`), so callers reach it over mTLS and policies select it.
        var externals: [String: (config: ExternalConfig, hop: ServiceConfig)] = [:]
        for e in config.externals {
            let ports = try take(2)
            plan.externals.append(.init(name: e.name, workload: e.workload, ambassadorPort: ports[0], inboundPort: ports[1], host: e.base?.host,
                                        port: e.base?.port))
            plan.inboundPorts[e.workload] = ports[1]
            let hop = Self.hop(for: e)
            externals[e.name] = (e, hop)
            plan.listeners.append(.init(role: .inbound, port: ports[1], service: e.workload, instance: e.workload,
                                        target: .app(instance: e.workload, port: ports[0]), callee: hop))
        }
        let selected = Dictionary(services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Each caller reaches each upstream through an egress listener of its own.
        var urls: [String: [String: String]] = [:]
        for s in services {
            for upstream in s.upstreams {
                if let external = externals[upstream] {
                    let port = try take(1)[0]
                    plan.egressPorts["\(s.name)->\(upstream)"] = port
                    plan.listeners.append(.init(role: .egress, port: port, service: s.name, upstream: upstream,
                                                target: .sidecarsOf(external.config.workload), callee: external.hop))
                    urls[s.name, default: [:]][upstream] = "http://127.0.0.1:\(port)"
                    continue
                }
                guard let target = selected[upstream] else { continue }
                switch target.protocol {
                case .http, .tcp:
                    let port = try take(1)[0]
                    plan.egressPorts["\(s.name)->\(upstream)"] = port
                    plan.listeners.append(.init(role: .egress, port: port, service: s.name, upstream: upstream,
                                                target: .sidecarsOf(upstream), callee: target))
                    urls[s.name, default: [:]][upstream] = "\(target.protocol == .tcp ? "tcp" : "http")://127.0.0.1:\(port)"
                case .none:
                    break
                }
            }
        }
        // `egress_proxy: true`: HTTP_PROXY-style egress that reaches every http service by name.
        var proxyEnv: [String: [String: String]] = [:]
        // By name: every http service, and every external by its name or its `url`'s host.
        let byName = services.filter { $0.protocol == .http }.map(\.name)
            + plan.externals.flatMap { [$0.name] + ($0.host.map { [$0] } ?? []) }
        for s in services where s.egressProxy {
            let port = try take(1)[0]
            plan.egressPorts["\(s.name)->*"] = port
            plan.listeners.append(.init(role: .egress, port: port, service: s.name, target: .byName(byName)))
            let url = "http://127.0.0.1:\(port)"
            proxyEnv[s.name] = ["HTTP_PROXY": url, "http_proxy": url, "HTTPS_PROXY": url, "https_proxy": url,
                                "NO_PROXY": "127.0.0.1,localhost,::1", "no_proxy": "127.0.0.1,localhost,::1"]
        }
        let builder = ProcessEnvironment(inherited: environment, stackEnvFile: loaded.stackEnvFile, serviceEnvFiles: loaded.serviceEnvFiles,
                                         withheld: ProcessEnvironment.externalSecrets(config.externals))
        var replicas: [SupervisionPlan.Replica] = []
        for s in services {
            for (i, port) in (appPorts[s.name] ?? []).enumerated() {
                var env: [String: String]
                do {
                    env = try builder.build(service: s, replica: i + 1, port: port, upstreamURLs: urls[s.name] ?? [:],
                                            otlpEndpoint: "http://127.0.0.1:\(plan.otlpPort)")
                    env.merge(proxyEnv[s.name] ?? [:]) { _, proxy in proxy }
                    for (name, value) in trustEnvironment where !s.env.contains(where: { $0.name == name }) {
                        env[name] = value
                    }
                } catch {
                    throw Failure(description: "service `\(s.name)`: an `env` value uses a variable that is not set",
                                  hint: "run `devmesh check` to see which")
                }
                replicas.append(SupervisionPlan.Replica(
                    service: s, index: i + 1, port: port,
                    command: ProcessEnvironment.expandPort(in: s.run, port: port), environment: env))
            }
        }
        plan.supervision = SupervisionPlan(root: config.root, services: services, servicePorts: plan.servicePorts, replicas: replicas)
        return plan
    }
}

extension StackPlanner {
    /// The sidecar hops towards an ambassador: no retries of their own (the ambassador retries
    /// the external, `retries`), and a request timeout that outlasts every attempt it may make.
    static func hop(for external: ExternalConfig) -> ServiceConfig {
        var hop = ServiceConfig(name: external.workload, run: "")
        hop.retries.attempts = 0
        hop.balancer = .roundRobin
        let attempts = Int64(external.retries + 1)
        // The ambassador's back-off: 100 ms, 200 ms, … doubling up to 3.2 s (ExternalClient.call).
        let backoff = (0..<external.retries).reduce(Int64(0)) { $0 + Int64(100 << min($1, 5)) }
        hop.timeouts.request = external.timeout * attempts + .milliseconds(backoff) + .seconds(2)
        return hop
    }
}

/// The whole layout of a running stack: processes, listeners and ports.
public struct MeshPlan: Sendable {
    /// One sidecar listener to open.
    public struct Listener: Sendable {
        public enum Target: Sendable, Equatable {
            /// One replica's app, on its private port.
            case app(instance: String, port: Int)
            /// The ready inbound sidecars of a service (changes as replicas come and go).
            case sidecarsOf(String)
            /// `egress_proxy`: the ready inbound sidecars of whichever of these services a request names.
            case byName([String])
        }

        public var role: ProxyRole
        public var port: Int
        public var service: String
        public var instance: String?
        public var upstream: String?
        public var target: Target
        /// The called service's `balancer`, `timeouts` and `retries` (every hop towards it uses them).
        public var callee: ServiceConfig?

        public init(role: ProxyRole, port: Int, service: String, instance: String? = nil, upstream: String? = nil,
                    target: Target, callee: ServiceConfig? = nil) {
            self.role = role
            self.port = port
            self.service = service
            self.instance = instance
            self.upstream = upstream
            self.target = target
            self.callee = callee
        }
    }

    /// One declared external's ambassador: its private port and its inbound sidecar's.
    public struct External: Sendable, Equatable {
        public var name: String
        public var workload: String
        public var ambassadorPort: Int
        public var inboundPort: Int
        /// The host of its `url`: with `egress_proxy`, `http://<host>/…` reaches it too.
        public var host: String?
        /// The port of its `url`: with `egress_proxy`, `CONNECT <host>:<port>` tunnels to it.
        public var port: Int?
    }

    public var supervision = SupervisionPlan(root: "", services: [], servicePorts: [:], replicas: [])
    public var externals: [External] = []
    public var listeners: [Listener] = []
    public var servicePorts: [String: Int] = [:]
    public var inboundPorts: [String: Int] = [:]
    public var egressPorts: [String: Int] = [:]
    public var mtls: MTLSMode = .permissive
    /// The edge gateway, when the stack has an HTTP service.
    public var gateway: Gateway?
    /// OTLP/HTTP ingest (`telemetry.otlp_port`, default 4318).
    public var otlpPort = TelemetryConfig.defaultOTLPPort
    public var otlpPortIsExplicit = false
    /// Things `up` should tell the user (ports moved off their defaults).
    public var notices: [String] = []

    public struct Gateway: Sendable {
        public var httpsPort: Int
        public var httpPort: Int
        public var config: GatewayConfig
        /// The HTTP services it can route to.
        public var services: [String]
        /// Ports the user chose must be bound as they are; the others may move to a free port
        /// if another process takes them between planning and binding.
        public var portsAreExplicit: (https: Bool, http: Bool) = (false, false)
    }

    public init() {}
}

/// The kind of a sidecar listener (mirrors `ProxyRoute.Role`, so planning needs no NIO).
public enum ProxyRole: String, Sendable {
    case inbound
    case egress
    case service
    case gateway
}

extension MeshPlan {
    /// OTLP ingest bound elsewhere than planned: the apps' `OTEL_EXPORTER_OTLP_ENDPOINT` follows
    /// (unless a service set its own).
    mutating func moveOTLP(to port: Int) {
        let old = "http://127.0.0.1:\(otlpPort)"
        otlpPort = port
        for i in supervision.replicas.indices where supervision.replicas[i].environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == old {
            supervision.replicas[i].environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:\(port)"
        }
    }
}
