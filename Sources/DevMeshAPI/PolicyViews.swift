import DevMeshCore

/// What the admin API needs of the running stack's policies (the app implements it over the
/// policy engine; the API stays free of it).
public protocol PolicyInspecting: Sendable {
    func overview() -> PolicyOverview
    /// The same evaluation as `devmesh policy explain`, against the policies in force.
    func explain(_ request: WhatIfRequest) async throws -> ExplainView
}

public struct PolicyOverview: Codable, Sendable, Equatable {
    public var normalization: String
    public var rootNamespace: String
    public var mtls: String
    public var loadedAt: String
    public var reloads: Int
    /// The last reload's error, while the previous set stays in force.
    public var reloadError: String?
    public var keyWarnings: [String]
    public var policies: [PolicyView]
    public var workloads: [WorkloadView]
    public var lint: [LintView]

    public init(normalization: String, rootNamespace: String, mtls: String, loadedAt: String, reloads: Int, reloadError: String?,
                keyWarnings: [String], policies: [PolicyView], workloads: [WorkloadView], lint: [LintView]) {
        self.normalization = normalization
        self.rootNamespace = rootNamespace
        self.mtls = mtls
        self.loadedAt = loadedAt
        self.reloads = reloads
        self.reloadError = reloadError
        self.keyWarnings = keyWarnings
        self.policies = policies
        self.workloads = workloads
        self.lint = lint
    }

    enum CodingKeys: String, CodingKey {
        case normalization, rootNamespace = "root_namespace", mtls, loadedAt = "loaded_at", reloads, reloadError = "reload_error",
             keyWarnings = "key_warnings", policies, workloads, lint
    }
}

public struct PolicyView: Codable, Sendable, Equatable {
    public var id: String
    /// `AuthorizationPolicy` or `RequestAuthentication`.
    public var kind: String
    public var action: String?
    public var dryRun: Bool
    public var file: String?
    public var line: Int?
    public var rules: Int
    /// The workloads it applies to.
    public var selects: [String]
    public var issuers: [String]?

    public init(id: String, kind: String, action: String?, dryRun: Bool, file: String?, line: Int?, rules: Int, selects: [String],
                issuers: [String]? = nil) {
        self.id = id
        self.kind = kind
        self.action = action
        self.dryRun = dryRun
        self.file = file
        self.line = line
        self.rules = rules
        self.selects = selects
        self.issuers = issuers
    }

    enum CodingKeys: String, CodingKey { case id, kind, action, dryRun = "dry_run", file, line, rules, selects, issuers }
}

public struct WorkloadView: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var labels: [String: String]
    public var principal: String
    public var policies: [String]

    public init(name: String, namespace: String, labels: [String: String], principal: String, policies: [String]) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.principal = principal
        self.policies = policies
    }
}

public struct LintView: Codable, Sendable, Equatable {
    public var severity: String
    public var message: String
    public var hint: String?
    public var file: String?
    public var line: Int?

    public init(severity: String, message: String, hint: String?, file: String?, line: Int?) {
        self.severity = severity
        self.message = message
        self.hint = hint
        self.file = file
        self.line = line
    }
}

/// A what-if request (`POST /api/v1/policies/explain`), the fields of a policy test case.
public struct WhatIfRequest: Codable, Sendable, Equatable {
    public var to: String
    public var from: String?
    public var principal: String?
    public var method: String?
    public var path: String
    public var host: String?
    public var port: Int?
    public var sourceIP: String?
    public var headers: [String: String]?
    public var claims: [String: AttributeValue]?
    public var jwt: String?

    public init(to: String, from: String? = nil, principal: String? = nil, method: String? = nil, path: String, host: String? = nil,
                port: Int? = nil, sourceIP: String? = nil, headers: [String: String]? = nil, claims: [String: AttributeValue]? = nil,
                jwt: String? = nil) {
        self.to = to
        self.from = from
        self.principal = principal
        self.method = method
        self.path = path
        self.host = host
        self.port = port
        self.sourceIP = sourceIP
        self.headers = headers
        self.claims = claims
        self.jwt = jwt
    }

    enum CodingKeys: String, CodingKey { case to, from, principal, method, path, host, port, sourceIP = "source_ip", headers, claims, jwt }
}

public struct ExplainView: Codable, Sendable, Equatable {
    public struct Considered: Codable, Sendable, Equatable {
        public var policy: String
        public var action: String
        public var dryRun: Bool
        public var matchedRule: Int?
        public var why: [String]

        public init(policy: String, action: String, dryRun: Bool, matchedRule: Int?, why: [String]) {
            self.policy = policy
            self.action = action
            self.dryRun = dryRun
            self.matchedRule = matchedRule
            self.why = why
        }

        enum CodingKeys: String, CodingKey { case policy, action, dryRun = "dry_run", matchedRule = "matched_rule", why }
    }

    /// `allow`, `deny`, `unauthenticated`, `bad request` or `invalid` (the request itself is wrong).
    public var outcome: String
    public var detail: String?
    public var reason: String?
    public var decidedBy: String?
    public var considered: [Considered]
    public var dryRun: [String]
    public var audited: [String]
    public var unsupported: [String]

    public init(outcome: String, detail: String?, reason: String?, decidedBy: String?, considered: [Considered], dryRun: [String],
                audited: [String], unsupported: [String]) {
        self.outcome = outcome
        self.detail = detail
        self.reason = reason
        self.decidedBy = decidedBy
        self.considered = considered
        self.dryRun = dryRun
        self.audited = audited
        self.unsupported = unsupported
    }

    enum CodingKeys: String, CodingKey {
        case outcome, detail, reason, decidedBy = "decided_by", considered, dryRun = "dry_run", audited, unsupported
    }
}
