import DevMeshCore

/// What the engine knows of a request: the caller (mTLS identity, address), the validated JWT
/// (if any) and the HTTP request itself (its path already normalised).
public struct PolicyRequest: Sendable, Equatable {
    /// `cluster.local/ns/<ns>/sa/<service>` from the caller's certificate; nil without mTLS.
    public var sourcePrincipal: String?
    public var sourceIP: String?
    /// The original client (X-Forwarded-For at the edge); defaults to `sourceIP`.
    public var remoteIP: String?
    /// `<iss>/<sub>` of a validated JWT; nil without one.
    public var requestPrincipal: String?
    /// The validated JWT's claims.
    public var claims: [String: AttributeValue]
    public var host: String?
    public var port: Int?
    public var method: String
    /// Normalised (`PathNormalization`), without the query.
    public var path: String
    /// Lower-case names.
    public var headers: [String: String]
    public var sni: String?

    public init(sourcePrincipal: String? = nil, sourceIP: String? = nil, remoteIP: String? = nil, requestPrincipal: String? = nil,
                claims: [String: AttributeValue] = [:], host: String? = nil, port: Int? = nil, method: String = "GET",
                path: String = "/", headers: [String: String] = [:], sni: String? = nil) {
        self.sourcePrincipal = sourcePrincipal
        self.sourceIP = sourceIP
        self.remoteIP = remoteIP
        self.requestPrincipal = requestPrincipal
        self.claims = claims
        self.host = host
        self.port = port
        self.method = method
        self.path = path
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, b in a + "," + b })
        self.sni = sni
    }

    /// `source.namespace`: from the principal (`…/ns/<ns>/…`).
    public var sourceNamespace: String? {
        guard let principal = sourcePrincipal else { return nil }
        let parts = principal.split(separator: "/", omittingEmptySubsequences: false)
        guard let i = parts.firstIndex(of: "ns"), i + 1 < parts.count else { return nil }
        return String(parts[i + 1])
    }
}

/// What a policy can select: a service, the gateway or an external, in its namespace with its labels.
public struct PolicyWorkload: Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var labels: [String: String]

    public init(name: String, namespace: String = "default", labels: [String: String] = [:]) {
        self.name = name
        self.namespace = namespace
        var labels = labels
        if labels["app"] == nil { labels["app"] = name }
        self.labels = labels
    }
}
