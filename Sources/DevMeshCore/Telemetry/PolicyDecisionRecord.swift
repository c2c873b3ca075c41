/// One recorded authorization decision (a span with `devmesh.policy.*`), for the Policies page.
public struct PolicyDecisionRecord: Sendable, Equatable, Codable {
    public var timeNanos: UInt64
    public var traceID: String
    public var spanID: String
    /// The workload that decided: the service of an inbound sidecar, or `devmesh-gateway`.
    public var workload: String
    public var listener: String?
    public var method: String?
    public var target: String?
    public var status: Int?
    public var decision: String
    public var policy: String?
    public var rule: Int?
    public var reason: String?
    public var dryRun: String?
    public var audit: String?
    public var sourcePrincipal: String?
    public var requestPrincipal: String?

    public init(timeNanos: UInt64, traceID: String, spanID: String, workload: String, listener: String? = nil, method: String? = nil,
                target: String? = nil, status: Int? = nil, decision: String, policy: String? = nil, rule: Int? = nil, reason: String? = nil,
                dryRun: String? = nil, audit: String? = nil, sourcePrincipal: String? = nil, requestPrincipal: String? = nil) {
        self.timeNanos = timeNanos
        self.traceID = traceID
        self.spanID = spanID
        self.workload = workload
        self.listener = listener
        self.method = method
        self.target = target
        self.status = status
        self.decision = decision
        self.policy = policy
        self.rule = rule
        self.reason = reason
        self.dryRun = dryRun
        self.audit = audit
        self.sourcePrincipal = sourcePrincipal
        self.requestPrincipal = requestPrincipal
    }

    enum CodingKeys: String, CodingKey {
        case timeNanos = "time_ns", traceID = "trace_id", spanID = "span_id", workload, listener, method, target, status, decision,
             policy, rule, reason, dryRun = "dry_run", audit, sourcePrincipal = "source_principal", requestPrincipal = "request_principal"
    }
}

/// Which recorded decisions to list.
public struct PolicyDecisionFilter: Sendable, Equatable {
    /// `allow`, `deny`, `unauthenticated`, or `dry-run` (any decision a dry-run policy commented on).
    public var decision: String?
    public var workload: String?
    public var policy: String?
    public var limit: Int

    public init(decision: String? = nil, workload: String? = nil, policy: String? = nil, limit: Int = 100) {
        self.decision = decision
        self.workload = workload
        self.policy = policy
        self.limit = limit
    }
}
