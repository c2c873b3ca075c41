/// What a sidecar knows about one request it proxied, in a compact form: the event loop fills it
/// in (no dictionaries, no formatting) and the telemetry writer derives the span and the access
/// record from it on its own thread.
public struct HopRecord: Sendable, Equatable {
    /// `inbound`, `egress` or `service`.
    public var listener: String
    public var service: String
    public var instance: String?
    /// For egress hops: the upstream called; for service listeners, the service itself.
    public var upstreamName: String?
    public var traceID: String
    public var spanID: String
    public var parentSpanID: String?
    public var method: String
    /// The request target as received (path and query).
    public var target: String
    public var host: String
    public var userAgent: String?
    public var minorVersion: Int
    public var status: Int
    /// Why devmesh failed the request itself (`x-devmesh-error`), if it did.
    public var error: String?
    /// Unix time in nanoseconds.
    public var startNanos: UInt64
    public var durationNanos: UInt64
    /// The endpoint that served it: `users.1`, and its address.
    public var endpointName: String?
    public var endpointHost: String?
    public var endpointPort: Int?
    public var attempts: Int
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    /// The caller's mTLS identity as a policy principal (`cluster.local/ns/default/sa/orders`), when
    /// the request arrived over mTLS.
    public var sourcePrincipal: String?
    /// The authorization decision, where policies or a RequestAuthentication apply.
    public var policy: PolicyNote?
    /// The name of the gateway route's API key the request carried (`devmesh.api_key.name`).
    public var apiKey: String?
    /// Who a gateway route's Basic auth or JWT found the caller to be (`enduser.id`): a user name,
    /// or a token's `iss/sub`.
    public var user: String?
    /// `devmesh.cache`: what the gateway's cache did (`HIT`, `MISS`, `STALE (upstream-refused)`, …).
    public var cache: String?

    public init(listener: String, service: String, instance: String?, upstreamName: String?, traceID: String,
                spanID: String, parentSpanID: String?, method: String, target: String, host: String, userAgent: String?,
                minorVersion: Int, status: Int, error: String?, startNanos: UInt64, durationNanos: UInt64,
                endpointName: String?, endpointHost: String?, endpointPort: Int?, attempts: Int, bytesIn: UInt64, bytesOut: UInt64,
                sourcePrincipal: String? = nil, policy: PolicyNote? = nil, apiKey: String? = nil, cache: String? = nil, user: String? = nil) {
        self.listener = listener
        self.service = service
        self.instance = instance
        self.upstreamName = upstreamName
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.method = method
        self.target = target
        self.host = host
        self.userAgent = userAgent
        self.minorVersion = minorVersion
        self.status = status
        self.error = error
        self.startNanos = startNanos
        self.durationNanos = durationNanos
        self.endpointName = endpointName
        self.endpointHost = endpointHost
        self.endpointPort = endpointPort
        self.attempts = attempts
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.sourcePrincipal = sourcePrincipal
        self.policy = policy
        self.apiKey = apiKey
        self.user = user
        self.cache = cache
    }

    public var path: String { String(target.prefix { $0 != "?" }) }

    public var query: String? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: q)...])
    }

    /// Egress hops are client spans; inbound and service listeners record server spans.
    public var kind: SpanRecord.Kind { listener == "egress" ? .client : .server }

    /// The span, with OpenTelemetry HTTP semantic-convention attributes. Server spans are errors on
    /// 5xx only, client spans on 4xx too (the conventions' rule).
    public func span() -> SpanRecord {
        var attributes: [String: String] = [
            "http.request.method": method,
            "url.path": path,
            "http.response.status_code": String(status),
            "network.protocol.version": minorVersion == 1 ? "1.1" : "1.0",
            "devmesh.listener": listener,
            "devmesh.attempts": String(attempts),
            "http.request.body.size": String(bytesIn),
            "http.response.body.size": String(bytesOut),
        ]
        if let query { attributes["url.query"] = query }
        if !host.isEmpty { attributes["server.address"] = host }
        if let userAgent { attributes["user_agent.original"] = userAgent }
        if let endpointName { attributes["devmesh.upstream"] = endpointName }
        if let sourcePrincipal { attributes["devmesh.source.principal"] = sourcePrincipal }
        if let endpointHost { attributes["network.peer.address"] = endpointHost }
        if let endpointPort { attributes["network.peer.port"] = String(endpointPort) }
        if let upstreamName { attributes["peer.service"] = upstreamName }
        if let policy { attributes.merge(policy.attributes) { a, _ in a } }
        if let apiKey { attributes["devmesh.api_key.name"] = apiKey }
        if let user { attributes["enduser.id"] = user }
        if let cache { attributes["devmesh.cache"] = cache }
        if let error { attributes["error.type"] = error } else if status >= 500 { attributes["error.type"] = String(status) }
        return SpanRecord(
            traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, service: service, instance: instance,
            kind: kind, name: spanName, startNanos: startNanos, durationNanos: durationNanos,
            status: isError ? .error : .unset, attributes: attributes)
    }

    /// Server spans are errors on 5xx only, client spans on 4xx too (the conventions' rule), and
    /// every request devmesh failed itself is one.
    public var isError: Bool { error != nil || status >= 500 || (kind == .client && status >= 400) }

    public var spanName: String { "\(method) \(path)" }

    public func access() -> AccessLogRecord {
        AccessLogRecord(
            time: Double(startNanos) / 1e9, listener: listener, service: service, instance: instance,
            source: sourcePrincipal ?? (listener == "egress" ? service : nil), method: method, path: path, status: status,
            durationMillis: Double(durationNanos) / 1e6, bytesIn: bytesIn, bytesOut: bytesOut, upstream: endpointName,
            traceID: traceID, spanID: spanID, error: error, attempts: attempts,
            caller: apiKey.map { "key " + $0 } ?? user.map { "user " + $0 })
    }
}
