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
    /// `http_mode` — what the plain-HTTP port does: serve the same routes, or redirect to HTTPS.
    public var httpMode: HTTPMode

    public enum HTTPMode: String, Sendable, Equatable, CaseIterable {
        case serve
        case redirect
    }

    public init(
        declared: Bool = false,
        httpsPort: Int? = nil,
        httpPort: Int? = nil,
        hosts: [String] = ["localhost"],
        autoHosts: Bool = true,
        routes: [RouteConfig] = [],
        httpMode: HTTPMode = .serve
    ) {
        self.declared = declared
        self.httpsPort = httpsPort
        self.httpPort = httpPort
        self.hosts = hosts
        self.autoHosts = autoHosts
        self.routes = routes
        self.httpMode = httpMode
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
    /// `aggregate` — instead of `to`: several services asked at once, their JSON merged by name.
    public var aggregate: [AggregateCall]?
    /// `compress` — gzip compressible answers for clients that accept it.
    public var compress: CompressionConfig?
    /// `cors`.
    public var cors: CORSConfig?
    /// `auth`.
    public var auth: RouteAuth?
    /// `record` — record exchanges for replay (default true at the gateway).
    public var record: Bool
    /// `redact` — redact what is recorded on this route (default true; false only for local-only data).
    public var redact: Bool = true
    /// `rewrite` — the path the service gets instead of the matched prefix, with `{name}` segments
    /// of `path` put in (`path: /api/v1/users/{id}`, `rewrite: /users/{id}`); the rest follows.
    public var rewrite: String?
    /// `version` — this route answers one API version (by a request header); nil: the default.
    public var version: RouteVersion?
    /// `deprecated` — answers carry `Deprecation`, and `Sunset`/`Link` when given.
    public var deprecation: RouteDeprecation?
    /// `headers` — request header edits before forwarding.
    public var requestHeaders: HeaderEdits
    /// `response_headers` — response header edits before answering the client.
    public var responseHeaders: HeaderEdits

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
        record: Bool = true,
        requestHeaders: HeaderEdits = HeaderEdits(),
        responseHeaders: HeaderEdits = HeaderEdits()
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
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
    }

    /// A route with `auth` or `rate_limit` guards its service: no automatic host may bypass it.
    public var isGuarded: Bool { auth != nil || rateLimit != nil }
}

/// `{add: {Name: value}, remove: [Name]}`: `add` replaces any field of that name, `remove` drops
/// every field of that name (names are case-insensitive).
public struct HeaderEdits: Sendable, Equatable {
    public var add: [(name: String, value: String)]
    public var remove: [String]
    /// Added without replacing fields of the same name (`Vary: Origin` next to the upstream's `Vary`).
    public var append: [(name: String, value: String)] = []
    /// Fields sent on under another name, values kept (`rename: {X-User: X-Account}`).
    public var rename: [(from: String, to: String)] = []

    public init(add: [(name: String, value: String)] = [], remove: [String] = []) {
        self.add = add
        self.remove = remove
    }

    public var isEmpty: Bool { add.isEmpty && remove.isEmpty && append.isEmpty && rename.isEmpty }

    /// The new name of a field that is renamed.
    public func renamed(_ name: some StringProtocol) -> String? {
        rename.first { $0.from.caseInsensitiveEqualsASCII(name) }?.to
    }

    public static func == (a: HeaderEdits, b: HeaderEdits) -> Bool {
        a.remove == b.remove && a.add.count == b.add.count && zip(a.add, b.add).allSatisfy { $0.name == $1.name && $0.value == $1.value }
            && a.append.count == b.append.count && zip(a.append, b.append).allSatisfy { $0.name == $1.name && $0.value == $1.value }
            && a.rename.map { $0.from + ":" + $0.to } == b.rename.map { $0.from + ":" + $0.to }
    }
}

/// One call of an aggregate route: `name: {to: service, path: /users/{id}, timeout: 2s}`.
public struct AggregateCall: Sendable, Equatable {
    public var name: String
    public var to: String
    /// The path asked, with `{captures}` of the route's path put in; the client's query is not passed.
    public var path: String
    public var timeout: Duration = .seconds(5)
    public var location: SourceLocation?

    public init(name: String, to: String, path: String, timeout: Duration = .seconds(5), location: SourceLocation? = nil) {
        self.name = name
        self.to = to
        self.path = path
        self.timeout = timeout
        self.location = location
    }
}

/// `compress: true` or `{min_size: 1KiB}` — see `ResponseCompression` (docs/gateway.md).
public struct CompressionConfig: Sendable, Equatable {
    /// Answers whose length is known and smaller than this are sent as they are.
    public var minSize: Int = 1024

    public init(minSize: Int = 1024) {
        self.minSize = minSize
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
/// `cors:` — see `CORSPolicy` (docs/gateway.md).
public struct CORSConfig: Sendable, Equatable {
    public var origins: [String]
    public var methods: [String]?
    public var headers: [String]?
    public var exposeHeaders: [String]
    public var credentials: Bool
    public var maxAge: Duration?

    public init(origins: [String], methods: [String]? = nil, headers: [String]? = nil, exposeHeaders: [String] = [],
                credentials: Bool = false, maxAge: Duration? = nil) {
        self.origins = origins
        self.methods = methods
        self.headers = headers
        self.exposeHeaders = exposeHeaders
        self.credentials = credentials
        self.maxAge = maxAge
    }

    public var policy: CORSPolicy {
        CORSPolicy(origins: origins, methods: methods ?? CORSPolicy.defaultMethods, headers: headers, exposeHeaders: exposeHeaders,
                   credentials: credentials, maxAgeSeconds: maxAge.map { Int($0.components.seconds) } ?? CORSPolicy.defaultMaxAge)
    }
}

/// `auth:` — exactly one of `api_keys`, `jwt` (namespace/name of a RequestAuthentication) or `basic`.
public enum RouteAuth: Sendable, Equatable {
    case apiKeys(file: String)
    case jwt(reference: String)
    case basic(htpasswd: String)

    /// The config key: `api_keys`, `jwt` or `basic`.
    public var kind: String {
        switch self {
        case .apiKeys: "api_keys"
        case .jwt: "jwt"
        case .basic: "basic"
        }
    }
}

extension HeaderEdits {
    /// RFC 9110 token characters.
    public static func isFieldName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    /// Fields that route edits may not touch (add, remove or rename, either side): framing, hop-by-hop
    /// and the fields the gateway itself vouches for — an edit there could smuggle a second request
    /// past the gateway's checks or forge who the caller is.
    public static let protectedNames: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
        "proxy-connection", "expect", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded",
        "traceparent", "tracestate", "x-forwarded-client-cert", "x-api-key-name", "x-auth-user",
    ]

    public static func isProtected(_ name: String) -> Bool { protectedNames.contains(name.lowercased()) }

    /// Visible ASCII, space and tab; no CR, LF or NUL (a value must not split the head).
    public static func isFieldValue(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }
}

extension GatewayConfig {
    /// Why `host` cannot be a gateway host (a certificate is issued for exactly that name), or nil.
    public static func hostProblem(_ host: String) -> String? {
        if host.contains("*") { return "wildcards are not accepted (OpenSSL rejects `*.localhost`); list each name" }
        if host.contains(":") && !host.contains(".") { return nil }  // an IPv6 literal
        if host.contains(":") { return "a host has no port here; the gateway's ports are `https_port` and `http_port`" }
        guard !host.isEmpty, host.utf8.count <= 253 else { return "a host name has 1 to 253 characters" }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= 63,
                  label.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }),
                  label.first != "-", label.last != "-" else {
                return "`\(host)` is not a host name (letters, digits and `-` in dot-separated labels)"
            }
        }
        return nil
    }
}

extension StringProtocol {
    /// ASCII case-insensitive equality (header names).
    func caseInsensitiveEqualsASCII(_ other: some StringProtocol) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A)
        }
    }
}
