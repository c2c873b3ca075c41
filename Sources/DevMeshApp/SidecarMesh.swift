import Foundation
import DevMeshAuth
import DevMeshCore
import DevMeshPolicy
import DevMeshProxy
import NIOCore
import NIOPosix

/// The running sidecars of a stack: every listener of the plan, and the endpoint sets they
/// balance over, kept in step with the supervisor's view of which replicas are ready.
final class SidecarMesh: Sendable {
    let listeners: [ProxyListener]
    /// Ready inbound sidecars per service.
    private let sources: [String: EndpointSource]
    private let inboundPorts: [String: Int]
    /// The ambassadors' workloads (`external-<name>`): their endpoints never follow the supervisor.
    private let externalWorkloads: Set<String>
    /// Where the gateway's plain-HTTP port redirects (`http_mode: redirect`): the HTTPS port as bound.
    private let redirectPort = HTTPSPort(0)
    /// The gateway's response cache, when a route has `cache: true`.
    let cache: ResponseCache?
    /// The gateway's usage counts and its routes' rate limits (nil without a gateway).
    let usage: GatewayUsage?
    let rateLimits: [Int: SharedRateLimit]
    /// The gateway's own pages (API docs), set once its ports are known.
    let docs = StaticPages()

    init(plan: MeshPlan, telemetry: any TelemetrySink, group: any EventLoopGroup, security: MeshSecurity?, policies: MeshPolicies? = nil,
         recording: MeshRecording = MeshRecording(), routeAuth: [Int: RouteAuthentication] = [:],
         connectGuards: [String: @Sendable () -> ConnectRefusal?] = [:]) {
        let cache = plan.gateway?.config.routes.contains { $0.cache } == true ? ResponseCache() : nil
        self.cache = cache
        let usage = plan.gateway == nil ? nil : GatewayUsage(since: Date().timeIntervalSince1970)
        self.usage = usage
        var limits: [Int: SharedRateLimit] = [:]
        for (index, config) in (plan.gateway?.config.routes ?? []).enumerated() {
            if let limit = config.rateLimit { limits[index] = SharedRateLimit(limit) }
        }
        rateLimits = limits
        var sources: [String: EndpointSource] = [:]
        for listener in plan.listeners {
            switch listener.target {
            case .sidecarsOf(let service):
                if sources[service] == nil { sources[service] = EndpointSource() }
            case .byName(let services):
                for service in services where sources[service] == nil { sources[service] = EndpointSource() }
            case .app:
                break
            }
        }
        if let gateway = plan.gateway {
            for service in gateway.services where sources[service] == nil { sources[service] = EndpointSource() }
        }
        // Ambassadors are always ready: their inbound sidecars are the endpoints, set once.
        var byName: [String: String] = [:]
        for external in plan.externals {
            let source = sources[external.workload] ?? EndpointSource()
            source.set([Endpoint(port: external.inboundPort, name: external.workload)])
            sources[external.workload] = source
            byName[external.name] = external.workload
            if let host = external.host { byName[host] = external.workload }
        }
        let externalWorkloads = Set(plan.externals.map(\.workload))
        self.externalWorkloads = externalWorkloads
        self.sources = sources
        inboundPorts = plan.inboundPorts
        var listeners = plan.listeners.map { spec in
            let endpoints: EndpointSource
            var forward: ForwardTargets?
            switch spec.target {
            case .app(let instance, let port):
                endpoints = EndpointSource([Endpoint(port: port, name: instance)])
            case .sidecarsOf(let service):
                endpoints = sources[service]!
            case .byName(let services):
                endpoints = EndpointSource()
                forward = ForwardTargets(services: Dictionary(services.compactMap { name in
                    (sources[byName[name] ?? name]).map { (name, $0) }
                }, uniquingKeysWith: { a, _ in a }),
                    connectAllowed: Set(services.filter { externalWorkloads.contains(byName[$0] ?? $0) }))
            }
            let role: ProxyRoute.Role
            switch spec.role {
            case .inbound: role = .inbound
            case .egress: role = .egress
            case .service: role = .service
            case .gateway: role = .gateway
            }
            var route = ProxyRoute(role: role, service: spec.service, instance: spec.instance,
                                   upstreamName: spec.upstream ?? (role == .service ? spec.service : nil),
                                   endpoints: endpoints, telemetry: telemetry)
            route.forward = forward
            if case .app = spec.target, role == .inbound, let policies {
                route.authorization = policies.gate(workload: spec.service, port: nil)
            }
            if case .app = spec.target, role == .inbound {
                route.recording = recording.services[spec.service]
            }
            if role == .inbound, let external = plan.externals.first(where: { $0.workload == spec.service }),
               let host = external.host, let port = external.port {
                let authority = (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
                route.connectTargets = [authority: Endpoint(host: host, port: port, name: external.name)]
                route.connectGuard = connectGuards[external.workload]
            }
            var tls: ListenerTLS?
            if let security {
                switch spec.target {
                case .app:
                    tls = security.inbound(spec.service)
                    route.localIdentity = security.identities[spec.service]
                case .sidecarsOf(let callee):
                    if role == .egress { route.upstreamTLS = security.upstream(from: spec.service, to: callee) }
                case .byName(let services):
                    route.forward?.upstreamTLS = Dictionary(services.compactMap { callee in
                        security.upstream(from: spec.service, to: byName[callee] ?? callee).map { (callee, $0) }
                    }, uniquingKeysWith: { a, _ in a })
                }
            }
            if let callee = spec.callee {
                route.transport = callee.protocol == .tcp ? .tcp : .http
                route.balancer = callee.balancer == .roundRobin ? .roundRobin : .p2cEWMA
                route.timeouts.connect = callee.timeouts.connect
                route.timeouts.request = callee.timeouts.request
                route.timeouts.idle = callee.timeouts.idle
                route.retries.attempts = callee.retries.attempts
                route.retries.budgetRatio = callee.retries.budget
            }
            return ProxyListener(route: route, port: spec.port, group: group, tls: tls)
        }
        if let gateway = plan.gateway {
            let table = GatewayRouteTable(gateway: gateway.config, services: gateway.services)
            var routing = GatewayRouting(
                table: table,
                services: Dictionary(gateway.services.map { ($0, sources[$0]!) }, uniquingKeysWith: { a, _ in a }),
                upstreamTLS: Dictionary(gateway.services.compactMap { callee in
                    security?.upstream(from: nil, to: callee).map { (callee, $0) }
                }, uniquingKeysWith: { a, _ in a }))
            // Routes may go `to:` an external: through its ambassador's sidecar, as the gateway.
            for external in plan.externals {
                routing.services[external.name] = sources[external.workload]
                if let tls = security?.upstream(from: nil, to: external.workload) { routing.upstreamTLS[external.name] = tls }
            }
            routing.auth = routeAuth
            if !routeAuth.isEmpty { routing.keyFailures = SharedRateLimit(RateLimitConfig(requests: 30, per: .seconds(60))) }
            routing.cache = cache
            routing.cachedRoutes = Set(gateway.config.routes.indices.filter { gateway.config.routes[$0].cache })
            for (index, config) in gateway.config.routes.enumerated() {
                if let compress = config.compress { routing.compress[index] = compress }
                if config.aggregate != nil { routing.aggregates[index] = AggregateRoute(route: config) }
            }
            // One limit per route, shared by the HTTPS and HTTP ports.
            routing.rateLimits = limits
            routing.usage = usage
            routing.docs = docs
            var https = ProxyRoute(role: .gateway, service: "devmesh-gateway", endpoints: EndpointSource(), telemetry: telemetry)
            https.gateway = routing
            https.forwardedProto = "https"
            https.recording = recording.gateway
            // The gateway is a workload of its own (PRODUCT.md): JWTs are checked and policies
            // selecting it enforced at the edge, before any service is chosen.
            https.authorization = policies?.gate(workload: PolicyWorkspace.gateway, port: gateway.httpsPort)
            if let edge = security?.edge {
                listeners.append(ProxyListener(route: https, port: gateway.httpsPort, group: group, tls: .edge(edge, HTTP2Limits()),
                                               fallbackToFreePort: !gateway.portsAreExplicit.https))
            }
            if gateway.config.httpMode == .redirect { routing.redirectTo = redirectPort }
            var http = ProxyRoute(role: .gateway, service: "devmesh-gateway", endpoints: EndpointSource(), telemetry: telemetry)
            http.gateway = routing
            http.recording = recording.gateway
            http.authorization = policies?.gate(workload: PolicyWorkspace.gateway, port: gateway.httpPort)
            listeners.append(ProxyListener(route: http, port: gateway.httpPort, group: group,
                                           fallbackToFreePort: !gateway.portsAreExplicit.http))
        }
        self.listeners = listeners
    }

    /// Binds every listener; an explicit port that is taken fails here, before any app starts.
    func start() async throws {
        for listener in listeners {
            do {
                try await listener.start()
            } catch {
                await stop()
                throw StackRunner.Refusal(
                    message: "cannot listen on 127.0.0.1:\(listener.requestedPort) for \(listener.route.role.rawValue) sidecar of `\(listener.route.service)`: \(error)",
                    hint: "another process took the port; free it or change `port:`")
            }
        }
        if let https = gatewayPorts.https { redirectPort.set(https) }
    }

    /// The gateway's ports as bound (a default port may have moved at bind time).
    var gatewayPorts: (https: Int?, http: Int?) {
        let gateway = listeners.filter { $0.route.role == .gateway }
        return (gateway.first { $0.tls != nil }?.boundPort, gateway.first { $0.tls == nil }?.boundPort)
    }

    func stop() async {
        for listener in listeners { await listener.stop() }
    }

    /// Replicas that are ready receive traffic; the others are taken out of every balancer.
    func readyChanged(_ ready: Set<String>) {
        var byService: [String: [Endpoint]] = [:]
        for instance in ready.sorted() {
            guard let port = inboundPorts[instance], let dot = instance.lastIndex(of: ".") else { continue }
            byService[String(instance[..<dot]), default: []].append(Endpoint(port: port, name: instance))
        }
        for (service, source) in sources where !externalWorkloads.contains(service) {
            source.set(byService[service] ?? [])
        }
    }
}
