import DevMeshCore

/// A `security.istio.io` AuthorizationPolicy (v1 or v1beta1), as read from its YAML.
public struct AuthorizationPolicy: Sendable, Equatable {
    public enum Action: String, Sendable, Equatable, CaseIterable {
        case allow = "ALLOW", deny = "DENY", audit = "AUDIT", custom = "CUSTOM"
    }

    public var name: String
    public var namespace: String
    public var action: Action
    /// `selector.matchLabels`; nil selects every workload of the namespace (or of the mesh, in
    /// the root namespace).
    public var selector: [String: String]?
    /// Empty: the policy matches nothing (so an ALLOW `spec: {}` allows nothing).
    public var rules: [Rule]
    /// `metadata.annotations["istio.io/dry-run"] == "true"`: evaluated and recorded, never enforced.
    public var dryRun: Bool
    /// `provider.name` of a CUSTOM policy.
    public var provider: String?
    public var location: SourceLocation?

    /// `namespace/name`, as decisions and test cases name it.
    public var id: String { namespace + "/" + name }

    public init(name: String, namespace: String = "default", action: Action = .allow, selector: [String: String]? = nil,
                rules: [Rule] = [], dryRun: Bool = false, provider: String? = nil, location: SourceLocation? = nil) {
        self.name = name
        self.namespace = namespace
        self.action = action
        self.selector = selector
        self.rules = rules
        self.dryRun = dryRun
        self.provider = provider
        self.location = location
    }

    /// `rules[]`: matches when any `from` AND any `to` match AND every `when` holds; an absent
    /// part is no constraint, so `{}` matches every request.
    public struct Rule: Sendable, Equatable {
        public var from: [Source]
        public var to: [Operation]
        public var when: [Condition]
        /// A field this devmesh does not know how to evaluate: the rule fails closed (an ALLOW
        /// rule matches nothing, a DENY rule matches everything), as Istio does.
        public var unsupported: [String]

        public init(from: [Source] = [], to: [Operation] = [], when: [Condition] = [], unsupported: [String] = []) {
            self.from = from
            self.to = to
            self.when = when
            self.unsupported = unsupported
        }
    }

    /// `from[].source`: every field given must hold; within a field any value may match.
    public struct Source: Sendable, Equatable {
        public var principals: [String]?
        public var notPrincipals: [String]?
        public var requestPrincipals: [String]?
        public var notRequestPrincipals: [String]?
        public var namespaces: [String]?
        public var notNamespaces: [String]?
        public var ipBlocks: [String]?
        public var notIpBlocks: [String]?
        public var remoteIpBlocks: [String]?
        public var notRemoteIpBlocks: [String]?

        public init(principals: [String]? = nil, notPrincipals: [String]? = nil, requestPrincipals: [String]? = nil,
                    notRequestPrincipals: [String]? = nil, namespaces: [String]? = nil, notNamespaces: [String]? = nil,
                    ipBlocks: [String]? = nil, notIpBlocks: [String]? = nil, remoteIpBlocks: [String]? = nil,
                    notRemoteIpBlocks: [String]? = nil) {
            self.principals = principals
            self.notPrincipals = notPrincipals
            self.requestPrincipals = requestPrincipals
            self.notRequestPrincipals = notRequestPrincipals
            self.namespaces = namespaces
            self.notNamespaces = notNamespaces
            self.ipBlocks = ipBlocks
            self.notIpBlocks = notIpBlocks
            self.remoteIpBlocks = remoteIpBlocks
            self.notRemoteIpBlocks = notRemoteIpBlocks
        }
    }

    /// `to[].operation`.
    public struct Operation: Sendable, Equatable {
        public var hosts: [String]?
        public var notHosts: [String]?
        public var ports: [String]?
        public var notPorts: [String]?
        public var methods: [String]?
        public var notMethods: [String]?
        public var paths: [String]? { didSet { pathMatchers = Self.compile(paths) } }
        public var notPaths: [String]? { didSet { notPathMatchers = Self.compile(notPaths) } }
        /// `paths` parsed once (templates are not re-parsed per request); nil entries are invalid
        /// templates (a parse error elsewhere), which match nothing.
        private(set) var pathMatchers: [PathMatcher?]?
        private(set) var notPathMatchers: [PathMatcher?]?

        public init(hosts: [String]? = nil, notHosts: [String]? = nil, ports: [String]? = nil, notPorts: [String]? = nil,
                    methods: [String]? = nil, notMethods: [String]? = nil, paths: [String]? = nil, notPaths: [String]? = nil) {
            self.hosts = hosts
            self.notHosts = notHosts
            self.ports = ports
            self.notPorts = notPorts
            self.methods = methods
            self.notMethods = notMethods
            self.paths = paths
            self.notPaths = notPaths
            pathMatchers = Self.compile(paths)
            notPathMatchers = Self.compile(notPaths)
        }

        static func compile(_ patterns: [String]?) -> [PathMatcher?]? { patterns?.map { PathMatcher($0) } }
    }

    /// `when[]`: `key` holds when any of `values` matches and none of `notValues` does.
    public struct Condition: Sendable, Equatable {
        public var key: String
        public var values: [String]?
        public var notValues: [String]?

        public init(key: String, values: [String]? = nil, notValues: [String]? = nil) {
            self.key = key
            self.values = values
            self.notValues = notValues
        }
    }
}
