import NIOConcurrencyHelpers
import DevMeshAuth
import DevMeshCore
import DevMeshHTTP1

/// Everything one listener needs to know, and nothing more (each step gets only its slice).
public struct ProxyRoute: Sendable {
    /// Which kind of listener this is; decides the span kind and the access-log `listener`.
    public enum Role: String, Sendable {
        /// In front of one replica's app: server span.
        case inbound
        /// A caller's way to one upstream: client span.
        case egress
        /// The stable service port for callers outside the mesh: server span.
        case service
        /// The edge (HTTPS/HTTP) routing by host and path: the root server span of outside requests.
        case gateway
    }

    public var role: Role

    public enum Transport: String, Sendable {
        case http
        case tcp
    }
    /// The service whose traffic this is: the callee for inbound/service, the caller for egress.
    public var service: String
    /// `service.instance.id` for inbound listeners.
    public var instance: String?
    /// For egress listeners: the upstream called.
    public var upstreamName: String?
    /// Where requests go; read on every request, so replicas that come and go are followed.
    public var endpoints: EndpointSource
    public var balancer: BalancerKind
    /// When failing endpoints are taken out, and for how long.
    public var ejection = EjectionPolicy()
    public var timeouts: ProxyTimeouts
    public var retries: RetryPolicy
    public var limits: HTTP1Limits
    public var telemetry: any TelemetrySink
    /// Adds `Via: 1.1 devmesh` (off by default: it changes what apps see).
    public var addVia: Bool
    /// `http` (the HTTP/1.1 proxy) or `tcp` (a byte relay, one span per connection).
    public var transport: Transport = .http
    /// Set for an `egress_proxy` listener: requests name their upstream by host
    /// (`http://users/path`, or `Host: users`), as with `HTTP_PROXY`.
    public var forward: ForwardTargets?
    /// Set for the gateway: requests are routed by host and path to services.
    public var gateway: GatewayRouting?
    /// TLS towards the upstream (mTLS between sidecars): the caller's certificate and the
    /// identity the upstream must prove.
    public var upstreamTLS: UpstreamTLS?
    /// `X-Forwarded-Proto` this listener reports (`https` behind TLS).
    public var forwardedProto: String = "http"
    /// The workload identity of an inbound sidecar (`By=` of `x-forwarded-client-cert`).
    public var localIdentity: SPIFFEID?
    /// An inbound sidecar's policies (docs/policies.md): set when the stack has `policies:`.
    public var authorization: PolicyGate?
    /// Record exchanges for replay (docs/recording.md): at the gateway per route, at an inbound
    /// sidecar when its service has `record: true`; nil records nothing.
    public var recording: RecordingSettings?
    /// Set on the inbound sidecar of an external's ambassador: the `host:port` a `CONNECT` may
    /// open a tunnel to (the external's own address), after the policies' TCP-level check.
    public var connectTargets: [String: Endpoint]?
    /// Asked before each such tunnel: why it may not open now (the external's mode or circuit
    /// breaker), or nil.
    public var connectGuard: (@Sendable () -> ConnectRefusal?)?

    public init(role: Role, service: String, instance: String? = nil, upstreamName: String? = nil,
                endpoints: EndpointSource, balancer: BalancerKind = .p2cEWMA, timeouts: ProxyTimeouts = ProxyTimeouts(),
                retries: RetryPolicy = RetryPolicy(), limits: HTTP1Limits = HTTP1Limits(),
                telemetry: any TelemetrySink = NullTelemetrySink(), addVia: Bool = false) {
        self.role = role
        self.service = service
        self.instance = instance
        self.upstreamName = upstreamName
        self.endpoints = endpoints
        self.balancer = balancer
        self.timeouts = timeouts
        self.retries = retries
        self.limits = limits
        self.telemetry = telemetry
        self.addVia = addVia
    }
}

/// Timeouts of a proxy hop. Defaults are documented in docs/proxy.md.
public struct ProxyTimeouts: Sendable, Equatable {
    /// Establishing a TCP connection to an upstream.
    public var connect: Duration = .seconds(2)
    /// From sending a request to receiving the response head.
    public var request: Duration = .seconds(30)
    /// A keep-alive client connection with no request in progress.
    public var idle: Duration = .seconds(60)
    /// From the first byte of a request head to its end (slowloris protection, 408).
    public var requestHead: Duration = .seconds(10)

    public init() {}
}

/// Retries of idempotent requests whose upstream failed before answering.
public struct RetryPolicy: Sendable, Equatable {
    /// Extra attempts per request (0 turns retries off).
    public var attempts: Int = 2
    /// Retries may add at most this fraction of the requests of the last few seconds…
    public var budgetRatio: Double = 0.2
    /// …but at least this many per second, so a quiet service can still retry.
    public var minRetriesPerSecond: Int = 10

    public init() {}
}

/// Where an `egress_proxy` listener may send requests: services by name. CONNECT is allowed only
/// to declared externals (by name or their url's host): it goes to the external's ambassador
/// sidecar like any request, which enforces the policies and opens the tunnel.
public struct ForwardTargets: Sendable {
    public var services: [String: EndpointSource]
    public var connectAllowed: Set<String>
    /// mTLS towards each service, when the mesh uses it.
    public var upstreamTLS: [String: UpstreamTLS]

    public init(services: [String: EndpointSource], connectAllowed: Set<String> = [], upstreamTLS: [String: UpstreamTLS] = [:]) {
        self.services = services
        self.connectAllowed = connectAllowed
        self.upstreamTLS = upstreamTLS
    }
}

/// The gateway's routing: the route table, and the services it can reach by name.
public struct GatewayRouting: Sendable {
    public var table: GatewayRouteTable
    public var services: [String: EndpointSource]
    /// `http_mode: redirect` on the plain-HTTP port: answer 308 to `https://host:<port>` instead.
    /// A reference, because the HTTPS port is known for sure only once bound (a default port may
    /// move to a free one at bind time).
    public var redirectTo: HTTPSPort?
    /// The upstream TLS (mTLS) per service, when the mesh uses it.
    public var upstreamTLS: [String: UpstreamTLS]
    /// Each limited route's limit (by index into `gateway.routes`), shared by every connection.
    public var rateLimits: [Int: SharedRateLimit] = [:]
    /// Aggregate routes (by index).
    public var aggregates: [Int: AggregateRoute] = [:]
    /// The gateway's own pages under `/_devmesh/` (API docs).
    public var docs: StaticPages?
    /// Usage per route and caller, for `status`, the API and the UI.
    public var usage: GatewayUsage?
    /// The shared response cache, and the routes (by index) with `cache: true`.
    public var cache: ResponseCache?
    public var cachedRoutes: Set<Int> = []
    /// Each route's `compress` (by index).
    public var compress: [Int: CompressionConfig] = [:]
    /// Each route's `auth` (by index into `gateway.routes`).
    public var auth: [Int: RouteAuthentication] = [:]
    /// Wrong API keys or passwords per client address (30 a minute), shared by every route with
    /// `auth`: past it, 429.
    public var keyFailures: SharedRateLimit?

    public var redirectToHTTPSPort: Int? { redirectTo?.value }

    public init(table: GatewayRouteTable, services: [String: EndpointSource], redirectToHTTPSPort: Int? = nil,
                upstreamTLS: [String: UpstreamTLS] = [:]) {
        self.table = table
        self.services = services
        self.redirectTo = redirectToHTTPSPort.map(HTTPSPort.init)
        self.upstreamTLS = upstreamTLS
    }
}

/// The gateway's HTTPS port as bound, read by the plain-HTTP listener's redirects.
public final class HTTPSPort: Sendable {
    private let port: NIOLockedValueBox<Int>

    public init(_ port: Int) { self.port = NIOLockedValueBox(port) }

    public var value: Int { port.withLockedValue { $0 } }

    public func set(_ port: Int) { self.port.withLockedValue { $0 = port } }
}

/// Why a `CONNECT` tunnel to an external may not open now: the answer the caller gets.
public struct ConnectRefusal: Sendable, Equatable {
    public var status: Int
    /// `x-devmesh-error`.
    public var code: String
    public var message: String
    public var retryAfter: Int?

    public init(status: Int, code: String, message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }
}
