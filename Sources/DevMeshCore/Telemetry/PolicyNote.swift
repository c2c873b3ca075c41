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
        Dictionary(attributePairs, uniquingKeysWith: { a, _ in a })
    }

    /// The same, as (key, value) pairs in key order (what the store writes, without a dictionary).
    public var attributePairs: [(key: String, value: String)] {
        var pairs: [(key: String, value: String)] = []
        pairs.reserveCapacity(7)
        if !audited.isEmpty { pairs.append(("devmesh.policy.audit", audited.joined(separator: ", "))) }
        pairs.append(("devmesh.policy.decision", decision))
        if !dryRun.isEmpty { pairs.append(("devmesh.policy.dry_run", dryRun.joined(separator: "; "))) }
        if let policy { pairs.append(("devmesh.policy.name", policy)) }
        pairs.append(("devmesh.policy.reason", reason))
        if let rule { pairs.append(("devmesh.policy.rule", String(rule))) }
        if let requestPrincipal { pairs.append(("enduser.id", requestPrincipal)) }
        return pairs
    }
}
