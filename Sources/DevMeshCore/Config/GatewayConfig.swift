/// `gateway:` — the HTTPS/HTTP edge (its feature arrives with the gateway issue; the schema is checked now).
public struct GatewayConfig: Sendable, Equatable {
    public static let defaultHTTPSPort = 8443
    public static let defaultHTTPPort = 8080

    /// Whether `gateway:` was written at all.
    public var declared: Bool
    /// `https_port` (default 8443).
    public var httpsPort: Int?
    /// `http_port` (default 8080).
    public var httpPort: Int?
    /// `hosts` — names the gateway answers for (default `[localhost]`).
    public var hosts: [String]
    /// `auto_hosts` — `<service>.localhost` for services without a guarded route (default true).
    public var autoHosts: Bool
    /// `routes` — host/path routing to services.
    public var routes: [RouteConfig]

    public init(
        declared: Bool = false,
        httpsPort: Int? = nil,
        httpPort: Int? = nil,
        hosts: [String] = ["localhost"],
        autoHosts: Bool = true,
        routes: [RouteConfig] = []
    ) {
        self.declared = declared
        self.httpsPort = httpsPort
        self.httpPort = httpPort
        self.hosts = hosts
        self.autoHosts = autoHosts
        self.routes = routes
    }
}

/// One `gateway.routes` entry.
public struct RouteConfig: Sendable, Equatable {
    public var location: SourceLocation?
    /// `host` — exact host to match (optional).
    public var host: String?
    /// `path` — path prefix to match (optional; longest wins).
    public var path: String?
    /// `to` — the service (or external) that serves it.
    public var to: String
    /// `strip_prefix` — remove the matched `path` before forwarding.
    public var stripPrefix: Bool
    /// `cache` — RFC 9111 caching at the edge.
    public var cache: Bool
    /// `rate_limit`.
    public var rateLimit: RateLimitConfig?
    /// `cors`.
    public var cors: CORSConfig?
    /// `auth`.
    public var auth: RouteAuth?
    /// `record` — record exchanges for replay (default true at the gateway).
    public var record: Bool

    public init(
        location: SourceLocation? = nil,
        host: String? = nil,
        path: String? = nil,
        to: String,
        stripPrefix: Bool = false,
        cache: Bool = false,
        rateLimit: RateLimitConfig? = nil,
        cors: CORSConfig? = nil,
        auth: RouteAuth? = nil,
        record: Bool = true
    ) {
        self.location = location
        self.host = host
        self.path = path
        self.to = to
        self.stripPrefix = stripPrefix
        self.cache = cache
        self.rateLimit = rateLimit
        self.cors = cors
        self.auth = auth
        self.record = record
    }
}

/// `rate_limit: {requests, per, by}`.
public struct RateLimitConfig: Sendable, Equatable {
    public enum Key: String, Sendable, Equatable, CaseIterable {
        case ip
        case key
        case jwtSub = "jwt_sub"
    }

    public var requests: Int
    public var per: Duration
    public var by: Key

    public init(requests: Int, per: Duration, by: Key = .ip) {
        self.requests = requests
        self.per = per
        self.by = by
    }
}

/// `cors: {origins}`.
public struct CORSConfig: Sendable, Equatable {
    public var origins: [String]
    public init(origins: [String]) { self.origins = origins }
}

/// `auth:` — exactly one of `api_keys`, `jwt` (namespace/name of a RequestAuthentication) or `basic`.
public enum RouteAuth: Sendable, Equatable {
    case apiKeys(file: String)
    case jwt(reference: String)
    case basic(htpasswd: String)
}
