import DevMeshCore

/// A `security.istio.io` RequestAuthentication: which JWTs a workload accepts. A request with a
/// token that fails these rules is refused (401); a request without one has no request principal.
public struct RequestAuthentication: Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var selector: [String: String]?
    public var jwtRules: [JWTRule]
    public var location: SourceLocation?

    public var id: String { namespace + "/" + name }

    public init(name: String, namespace: String = "default", selector: [String: String]? = nil, jwtRules: [JWTRule] = [],
                location: SourceLocation? = nil) {
        self.name = name
        self.namespace = namespace
        self.selector = selector
        self.jwtRules = jwtRules
        self.location = location
    }

    public struct JWTRule: Sendable, Equatable {
        public struct HeaderSource: Sendable, Equatable {
            public var name: String
            public var prefix: String?
            public init(name: String, prefix: String? = nil) {
                self.name = name
                self.prefix = prefix
            }
        }

        public var issuer: String
        public var audiences: [String]
        /// An inline JWKS document.
        public var jwks: String?
        /// A URL or a file path to fetch the JWKS from.
        public var jwksUri: String?
        public var fromHeaders: [HeaderSource]
        public var fromParams: [String]
        public var fromCookies: [String]
        /// Claim → header to copy it into for the upstream.
        public var outputClaimToHeaders: [(header: String, claim: String)]
        public var forwardOriginalToken: Bool

        public init(issuer: String, audiences: [String] = [], jwks: String? = nil, jwksUri: String? = nil,
                    fromHeaders: [HeaderSource] = [], fromParams: [String] = [], fromCookies: [String] = [],
                    outputClaimToHeaders: [(header: String, claim: String)] = [], forwardOriginalToken: Bool = false) {
            self.issuer = issuer
            self.audiences = audiences
            self.jwks = jwks
            self.jwksUri = jwksUri
            self.fromHeaders = fromHeaders
            self.fromParams = fromParams
            self.fromCookies = fromCookies
            self.outputClaimToHeaders = outputClaimToHeaders
            self.forwardOriginalToken = forwardOriginalToken
        }

        public static func == (a: JWTRule, b: JWTRule) -> Bool {
            a.issuer == b.issuer && a.audiences == b.audiences && a.jwks == b.jwks && a.jwksUri == b.jwksUri
                && a.fromHeaders == b.fromHeaders && a.fromParams == b.fromParams && a.fromCookies == b.fromCookies
                && a.outputClaimToHeaders.map { $0.header + "\u{1}" + $0.claim } == b.outputClaimToHeaders.map { $0.header + "\u{1}" + $0.claim }
                && a.forwardOriginalToken == b.forwardOriginalToken
        }
    }
}
