import DevMeshCore

/// A frozen set of AuthorizationPolicies and the evaluation Istio's sidecar performs:
/// CUSTOM (not available locally: warned, skipped) → DENY (any match denies) → no ALLOW policy
/// for the workload: allow → any ALLOW match allows → deny. AUDIT marks, never decides.
/// Dry-run policies are evaluated the same way on their own, and only reported.
public struct PolicyEngine: Sendable {
    public let policies: [AuthorizationPolicy]
    /// Policies here apply to every workload of the mesh.
    public let rootNamespace: String

    public init(policies: [AuthorizationPolicy], rootNamespace: String = "istio-system") {
        self.policies = policies
        self.rootNamespace = rootNamespace
    }

    /// The policies that apply to `workload`: its namespace's and the root namespace's, whose
    /// selector (if any) matches its labels.
    public func policies(for workload: PolicyWorkload) -> [AuthorizationPolicy] {
        policies.filter { policy in
            guard policy.namespace == workload.namespace || policy.namespace == rootNamespace else { return false }
            guard let selector = policy.selector else { return true }
            return selector.allSatisfy { workload.labels[$0.key] == $0.value }
        }
    }

    /// The decision for `request` at `workload`. With `explain: false` (the data plane) the
    /// decision, deciding rule, reason, dry-run and audit results are the same, but `considered`
    /// is left empty and no per-rule explanation is built.
    public func evaluate(_ request: PolicyRequest, at workload: PolicyWorkload, explain: Bool = true) -> PolicyDecision {
        evaluate(request, at: workload, inScope: policies(for: workload), explain: explain)
    }

    /// The same, with the workload's policies already picked (`policies(for:)`), as a sidecar
    /// does once per policy set rather than once per request. Policies are reached by index, not
    /// copied into filtered arrays: this runs for every request of a workload with policies.
    public func evaluate(_ request: PolicyRequest, at workload: PolicyWorkload, inScope: [AuthorizationPolicy], explain: Bool) -> PolicyDecision {
        var considered: [PolicyDecision.Consideration] = []
        var matched = [Int?](repeating: nil, count: inScope.count)
        var anyDryRun = false, anyCustom = false
        for i in inScope.indices {
            let (rule, why) = Self.firstMatch(inScope[i], request, explain: explain)
            matched[i] = rule
            if inScope[i].dryRun { anyDryRun = true }
            if inScope[i].action == .custom { anyCustom = true }
            if explain {
                considered.append(.init(policy: inScope[i].id, action: inScope[i].action.rawValue, dryRun: inScope[i].dryRun,
                                        matchedRule: rule, why: why))
            }
        }
        func ref(_ i: Int) -> PolicyDecision.RuleRef? { matched[i].map { .init(policy: inScope[i].id, rule: $0) } }
        var decision = Self.decide(inScope, matched: matched, shadow: nil, workload: workload)
        decision.considered = considered
        for i in inScope.indices where !inScope[i].dryRun && inScope[i].action == .audit {
            if let r = ref(i) { decision.audited.append(r) }
        }
        if anyCustom {
            decision.unsupported = inScope.filter { $0.action == .custom }.map {
                "\($0.id): CUSTOM (provider \($0.provider ?? "unset")) needs an external authorizer; devmesh does not evaluate it locally"
            }
        }
        guard anyDryRun else { return decision }
        // Each dry-run policy as Istio's shadow evaluation reports it: a dry-run DENY that matches
        // would deny; a dry-run ALLOW, what the verdict would be with it enforced.
        for i in inScope.indices where inScope[i].dryRun {
            let id = inScope[i].id
            switch inScope[i].action {
            case .deny:
                if let r = ref(i) { decision.dryRun.append("\(id) (dry-run) would deny: DENY \(r) matches") }
            case .allow:
                let would = Self.decide(inScope, matched: matched, shadow: i, workload: workload)
                decision.dryRun.append("\(id) (dry-run) would \(would.verdict.rawValue): \(would.reason)")
            case .audit:
                if let r = ref(i) { decision.dryRun.append("\(id) (dry-run) would audit: \(r) matches") }
            case .custom: break
            }
        }
        return decision
    }

    /// DENY → no ALLOW: allow → an ALLOW match: allow → deny, over the enforced policies (not
    /// dry-run) and, for a dry-run ALLOW's shadow verdict, that one policy after them.
    static func decide(_ policies: [AuthorizationPolicy], matched: [Int?], shadow: Int?, workload: PolicyWorkload) -> PolicyDecision {
        func decision(_ verdict: PolicyDecision.Verdict, _ by: PolicyDecision.RuleRef?, _ reason: String) -> PolicyDecision {
            PolicyDecision(verdict: verdict, decidedBy: by, reason: reason, audited: [], dryRun: [], unsupported: [], considered: [])
        }
        for i in policies.indices where !policies[i].dryRun && policies[i].action == .deny {
            if let rule = matched[i] {
                let ref = PolicyDecision.RuleRef(policy: policies[i].id, rule: rule)
                return decision(.deny, ref, "denied by DENY policy \(ref)")
            }
        }
        var allows: [Int] = []
        for i in policies.indices where !policies[i].dryRun && policies[i].action == .allow { allows.append(i) }
        if let shadow, policies[shadow].action == .allow { allows.append(shadow) }
        guard !allows.isEmpty else {
            return decision(.allow, nil, "allowed: no ALLOW policy applies to \(workload.namespace)/\(workload.name), and no DENY policy matched")
        }
        for i in allows {
            if let rule = matched[i] {
                let ref = PolicyDecision.RuleRef(policy: policies[i].id, rule: rule)
                return decision(.allow, ref, "allowed by ALLOW policy \(ref)")
            }
        }
        let names = allows.map { policies[$0].id }
        return decision(.deny, nil, "denied: \(allows.count) ALLOW polic\(allows.count == 1 ? "y applies" : "ies apply") to \(workload.namespace)/\(workload.name) and none matched (\(names.joined(separator: ", ")))")
    }

    /// The first rule of `policy` that matches, and why each rule did or did not.
    static func firstMatch(_ policy: AuthorizationPolicy, _ request: PolicyRequest, explain: Bool = true) -> (Int?, [String]) {
        if policy.action == .custom { return (nil, ["CUSTOM: not evaluated locally"]) }
        if policy.rules.isEmpty {
            return (nil, [policy.action == .allow ? "no rules: allows nothing" : "no rules: matches nothing"])
        }
        var why: [String] = []
        for (index, rule) in policy.rules.enumerated() {
            if !rule.unsupported.isEmpty {
                // Fail closed: a DENY rule that cannot be evaluated denies, an ALLOW rule allows nothing.
                if policy.action == .deny {
                    why.append("rule \(index): matches (fails closed: \(rule.unsupported.joined(separator: ", ")) not supported)")
                    return (index, why)
                }
                why.append("rule \(index): does not match (fails closed: \(rule.unsupported.joined(separator: ", ")) not supported)")
                continue
            }
            if let miss = RuleMatcher.mismatch(rule, request, explain: explain) {
                if explain { why.append("rule \(index): \(miss)") }
            } else {
                if explain { why.append("rule \(index): matches") }
                return (index, why)
            }
        }
        return (nil, why)
    }
}
