/// The authorization decision a sidecar or the gateway made for one request, as it is recorded
/// on the request's span (`devmesh.policy.*`) for the Policies page and `devmesh traces --attr`.
public struct PolicyNote: Sendable, Equatable {
    /// `allow`, `deny` or `unauthenticated` (a token the RequestAuthentication refused).
    public var decision: String
    /// `namespace/name` of the deciding policy, when one decided.
    public var policy: String?
    public var rule: Int?
    public var reason: String
    /// What dry-run policies would have done (never enforced).
    public var dryRun: [String]
    /// AUDIT policies that matched (`namespace/name rule N`).
    public var audited: [String]
    /// `<iss>/<sub>` of the validated JWT.
    public var requestPrincipal: String?

    public init(decision: String, policy: String? = nil, rule: Int? = nil, reason: String, dryRun: [String] = [],
                audited: [String] = [], requestPrincipal: String? = nil) {
        self.decision = decision
        self.policy = policy
        self.rule = rule
        self.reason = reason
        self.dryRun = dryRun
        self.audited = audited
        self.requestPrincipal = requestPrincipal
    }

    /// Span attributes; `enduser.id` is OpenTelemetry's name for the authenticated user.
    public var attributes: [String: String] {
        var a = ["devmesh.policy.decision": decision, "devmesh.policy.reason": reason]
        if let policy { a["devmesh.policy.name"] = policy }
        if let rule { a["devmesh.policy.rule"] = String(rule) }
        if !dryRun.isEmpty { a["devmesh.policy.dry_run"] = dryRun.joined(separator: "; ") }
        if !audited.isEmpty { a["devmesh.policy.audit"] = audited.joined(separator: ", ") }
        if let requestPrincipal { a["enduser.id"] = requestPrincipal }
        return a
    }
}
