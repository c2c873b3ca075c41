import DevMeshPolicy
import PropertyBased
import Testing

// Property-based tests of `PolicyEngine` against a small, independent reference model of Istio's
// AuthorizationPolicy semantics (https://istio.io/latest/docs/reference/config/security/authorization-policy/).
// The model below deliberately does not call the engine's matchers: every pattern is matched here.
//
// Generators draw from small value pools so that rules actually match requests; every failure
// prints the shrunk scenario (policies as YAML-ish text, the request and the workload).

// MARK: - Reference model

enum ReferenceModel {
    static let rootNamespace = "istio-system"

    enum Verdict: String { case allow, deny }

    /// `*` any non-empty value, `x*` prefix, `*x` suffix, anything else (a `*` in the middle
    /// included) exact. No value (no mTLS principal, header absent) matches no pattern.
    static func matches(_ pattern: String, _ value: String?) -> Bool {
        guard let value else { return false }
        let chars = Array(pattern)
        if pattern == "*" { return !value.isEmpty }
        if chars.last == "*" { return value.hasPrefix(String(chars.dropLast())) }
        if chars.first == "*" { return value.hasSuffix(String(chars.dropFirst())) }
        return value == pattern
    }

    /// Hosts compare case-insensitively.
    static func hostMatches(_ pattern: String, _ value: String?) -> Bool {
        matches(pattern.lowercased(), value?.lowercased())
    }

    /// A field: some positive value matches (if given) AND no negative value matches (if given).
    static func field(_ values: [String]?, _ notValues: [String]?, _ actual: String?,
                      _ match: (String, String?) -> Bool = matches) -> Bool {
        if let values, !values.contains(where: { match($0, actual) }) { return false }
        if let notValues, notValues.contains(where: { match($0, actual) }) { return false }
        return true
    }

    /// `cluster.local/ns/<ns>/sa/<sa>` → `<ns>`.
    static func namespace(ofPrincipal principal: String?) -> String? {
        guard let principal else { return nil }
        let parts = principal.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for i in parts.indices where parts[i] == "ns" && i + 1 < parts.count { return parts[i + 1] }
        return nil
    }

    static func source(_ s: AuthorizationPolicy.Source, _ r: PolicyRequest) -> Bool {
        field(s.principals, s.notPrincipals, r.sourcePrincipal)
            && field(s.namespaces, s.notNamespaces, namespace(ofPrincipal: r.sourcePrincipal))
    }

    static func operation(_ o: AuthorizationPolicy.Operation, _ r: PolicyRequest) -> Bool {
        field(o.hosts, o.notHosts, r.host, hostMatches)
            && field(o.ports, o.notPorts, r.port.map { String($0) }, { $0 == $1 })
            && field(o.methods, o.notMethods, r.method)
            && field(o.paths, o.notPaths, r.path)
    }

    static func condition(_ c: AuthorizationPolicy.Condition, _ r: PolicyRequest) -> Bool {
        let prefix = "request.headers[", suffix = "]"
        precondition(c.key.hasPrefix(prefix) && c.key.hasSuffix(suffix), "the generators only make header conditions")
        let name = String(c.key.dropFirst(prefix.count).dropLast(suffix.count)).lowercased()
        let value = r.headers.first(where: { $0.key.lowercased() == name })?.value
        return field(c.values, c.notValues, value)
    }

    /// any `from` AND any `to` AND every `when`; an absent (empty) part is no constraint.
    static func rule(_ rule: AuthorizationPolicy.Rule, _ r: PolicyRequest) -> Bool {
        (rule.from.isEmpty || rule.from.contains { source($0, r) })
            && (rule.to.isEmpty || rule.to.contains { operation($0, r) })
            && rule.when.allSatisfy { condition($0, r) }
    }

    static func policyMatches(_ p: AuthorizationPolicy, _ r: PolicyRequest) -> Bool {
        p.rules.contains { rule($0, r) }
    }

    static func inScope(_ p: AuthorizationPolicy, _ w: PolicyWorkload) -> Bool {
        guard p.namespace == w.namespace || p.namespace == rootNamespace else { return false }
        var labels = w.labels
        if labels["app"] == nil { labels["app"] = w.name }
        return (p.selector ?? [:]).allSatisfy { labels[$0.key] == $0.value }
    }

    /// DENY → no ALLOW applies ⇒ allow → some ALLOW matches ⇒ allow → deny.
    /// Dry-run, AUDIT and CUSTOM policies never decide.
    static func verdict(_ policies: [AuthorizationPolicy], _ r: PolicyRequest, _ w: PolicyWorkload) -> Verdict {
        let enforced = policies.filter { inScope($0, w) && !$0.dryRun }
        if enforced.contains(where: { $0.action == .deny && policyMatches($0, r) }) { return .deny }
        let allows = enforced.filter { $0.action == .allow }
        if allows.isEmpty { return .allow }
        return allows.contains { policyMatches($0, r) } ? .allow : .deny
    }
}

// MARK: - Scenario (the generated input) and its readable description

struct Scenario: CustomTestStringConvertible, CustomStringConvertible {
    var policies: [AuthorizationPolicy]
    var request: PolicyRequest
    var workload: PolicyWorkload
    /// Picks a policy for the properties that copy one (index modulo the count).
    var pick: Int

    var picked: AuthorizationPolicy? { policies.isEmpty ? nil : policies[pick % policies.count] }

    func engineVerdict(_ policies: [AuthorizationPolicy]? = nil) -> PolicyDecision {
        PolicyEngine(policies: policies ?? self.policies).evaluate(request, at: workload)
    }

    var testDescription: String { description }

    var description: String {
        var lines = ["", "workload: \(workload.namespace)/\(workload.name) labels \(Self.sorted(workload.labels))"]
        var req = ["method: \(request.method)", "path: \(request.path)"]
        req.append("principal: \(request.sourcePrincipal.map { "\"\($0)\"" } ?? "none")")
        req.append("host: \(request.host.map { "\"\($0)\"" } ?? "none")")
        req.append("port: \(request.port.map(String.init) ?? "none")")
        req.append("x-env: \(request.headers["x-env"].map { "\"\($0)\"" } ?? "none")")
        lines.append("request: {" + req.joined(separator: ", ") + "}")
        lines.append("pick: \(pick)")
        lines.append("policies:\(policies.isEmpty ? " []" : "")")
        for p in policies { lines.append(Self.describe(p)) }
        return lines.joined(separator: "\n")
    }

    static func describe(_ p: AuthorizationPolicy) -> String {
        var out = "- \(p.id) action: \(p.action.rawValue)\(p.dryRun ? " (dry-run)" : "")"
        out += " selector: \(p.selector.map(Self.sorted) ?? "none")"
        if p.rules.isEmpty { out += " rules: []" }
        for rule in p.rules {
            var parts: [String] = []
            if !rule.from.isEmpty {
                parts.append("from: [" + rule.from.map { s in
                    "{" + fields([("principals", s.principals), ("notPrincipals", s.notPrincipals),
                                  ("namespaces", s.namespaces), ("notNamespaces", s.notNamespaces)]) + "}"
                }.joined(separator: ", ") + "]")
            }
            if !rule.to.isEmpty {
                parts.append("to: [" + rule.to.map { o in
                    "{" + fields([("hosts", o.hosts), ("notHosts", o.notHosts), ("ports", o.ports), ("notPorts", o.notPorts),
                                  ("methods", o.methods), ("notMethods", o.notMethods), ("paths", o.paths),
                                  ("notPaths", o.notPaths)]) + "}"
                }.joined(separator: ", ") + "]")
            }
            if !rule.when.isEmpty {
                parts.append("when: [" + rule.when.map { c in
                    "{key: \(c.key), " + fields([("values", c.values), ("notValues", c.notValues)]) + "}"
                }.joined(separator: ", ") + "]")
            }
            out += "\n    - {" + parts.joined(separator: ", ") + "}"
        }
        return out
    }

    static func fields(_ fs: [(String, [String]?)]) -> String {
        fs.compactMap { name, values in
            values.map { "\(name): [" + $0.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        }.joined(separator: ", ")
    }

    static func sorted(_ labels: [String: String]) -> String {
        "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
    }
}

// MARK: - Generators

enum PolicyGen {
    /// A value from a pool; shrinks towards the pool's first (simplest) entry.
    static func pick<T: Sendable>(_ pool: [T]) -> Generator<T, some SendableSequenceType> {
        Gen.int(in: 0...(pool.count - 1)).map { pool[$0] }
    }

    /// 1–2 values of a pool, or absent (the usual case).
    static func values(_ pool: [String], rate: Float = 0.45) -> Generator<[String]?, some SendableSequenceType> {
        pick(pool).array(of: 1...2).optional(valueRate: rate)
    }

    static let principals = [
        "cluster.local/ns/default/sa/a", "cluster.local/ns/default/sa/b", "cluster.local/ns/default/sa/c",
        "cluster.local/ns/default/*", "*/sa/a", "*", "cluster.local/ns/other/sa/a", "cluster.local/ns/*/sa/a",
    ]
    static let namespaces = ["default", "other", "*", "def*", "*er"]
    static let methods = ["GET", "POST", "*"]
    static let paths = ["/", "/admin", "/admin*", "*json", "/users/x", "/ad*in"]
    static let hosts = ["a.com", "A.COM", "*.com", "b.*"]
    static let ports = ["80", "8080"]
    static let envValues = ["dev", "prod", "*", "d*"]
    static let envKeys = ["request.headers[x-env]", "request.headers[x-env]", "request.headers[X-Env]"]

    static let source: Generator<AuthorizationPolicy.Source, some SendableSequenceType> =
        zip(values(principals, rate: 0.35), values(principals, rate: 0.15), values(namespaces, rate: 0.15), values(namespaces, rate: 0.1))
            .map { p, np, ns, nns in AuthorizationPolicy.Source(principals: p, notPrincipals: np, namespaces: ns, notNamespaces: nns) }

    static let operation: Generator<AuthorizationPolicy.Operation, some SendableSequenceType> =
        zip(values(hosts, rate: 0.2), values(hosts, rate: 0.1), values(ports, rate: 0.2), values(ports, rate: 0.1),
            values(methods, rate: 0.35), values(methods, rate: 0.15), values(paths, rate: 0.4), values(paths, rate: 0.15))
            .map { h, nh, p, np, m, nm, pa, npa in
                AuthorizationPolicy.Operation(hosts: h, notHosts: nh, ports: p, notPorts: np,
                                              methods: m, notMethods: nm, paths: pa, notPaths: npa)
            }

    /// A header condition with `values`, `notValues` or both (Istio requires one of them).
    static let condition: Generator<AuthorizationPolicy.Condition, some SendableSequenceType> =
        zip(pick(envKeys), pick(envValues).array(of: 1...2), values(envValues, rate: 0.4), Gen.bool(0.3))
            .map { key, vs, nvs, onlyNot in
                onlyNot && nvs != nil
                    ? AuthorizationPolicy.Condition(key: key, notValues: nvs)
                    : AuthorizationPolicy.Condition(key: key, values: vs, notValues: nvs)
            }

    static let rule: Generator<AuthorizationPolicy.Rule, some SendableSequenceType> =
        zip(source.array(of: 0...2), operation.array(of: 0...2), condition.array(of: 0...2))
            .map { from, to, when in AuthorizationPolicy.Rule(from: from, to: to, when: when) }

    static let selectors: [[String: String]?] = [nil, ["app": "a"], nil, ["app": "b"], ["app": "a", "version": "v1"], ["version": "v1"]]

    static let policy: Generator<AuthorizationPolicy, some SendableSequenceType> =
        zip(pick([AuthorizationPolicy.Action.allow, .deny, .audit, .allow, .deny, .custom]),
            pick(["default", "istio-system", "default", "other"]),
            pick(selectors),
            rule.array(of: 0...3),
            Gen.bool(0.15))
            .map { action, ns, selector, rules, dryRun in
                AuthorizationPolicy(name: "p", namespace: ns, action: action, selector: selector, rules: rules, dryRun: dryRun,
                                    provider: action == .custom ? "ext-authz" : nil)
            }

    /// 0–4 policies, named p0…p3 so their ids are distinct.
    static let policies: Generator<[AuthorizationPolicy], some SendableSequenceType> =
        policy.array(of: 0...4).map { ps in
            ps.enumerated().map { i, p in
                var p = p
                p.name = "p\(i)"
                return p
            }
        }

    static let request: Generator<PolicyRequest, some SendableSequenceType> =
        zip(pick(["cluster.local/ns/default/sa/a", "cluster.local/ns/default/sa/b", "cluster.local/ns/default/sa/c",
                  "cluster.local/ns/other/sa/a", "cluster.local/ns/*/sa/a", ""]).optional(valueRate: 0.8),
            pick(["GET", "POST", "PUT"]),
            pick(["/", "/admin", "/admin/x", "/data.json", "/users/x", "/ad*in"]),
            pick(["a.com", "A.com", "b.com", "b.org", ""]).optional(valueRate: 0.85),
            pick([80, 8080, 443]).optional(valueRate: 0.85),
            pick(["dev", "prod", ""]).optional(valueRate: 0.6))
            .map { principal, method, path, host, port, env in
                PolicyRequest(sourcePrincipal: principal, host: host, port: port, method: method, path: path,
                              headers: env.map { ["x-env": $0] } ?? [:])
            }

    static let workload: Generator<PolicyWorkload, some SendableSequenceType> =
        zip(pick(["a", "b"]), Gen.bool(0.3))
            .map { name, v1 in PolicyWorkload(name: name, namespace: "default", labels: v1 ? ["version": "v1"] : [:]) }

    static let scenario: Generator<Scenario, some SendableSequenceType> =
        zip(policies, request, workload, Gen.int(in: 0...3))
            .map { policies, request, workload, pick in
                Scenario(policies: policies, request: request, workload: workload, pick: pick)
            }
}

// MARK: - Properties

@Suite(.shrinking) struct PropertyTests {
    /// Runs per property. PropertyBased 2.0.1 seeds every run at random: its `.fixedSeed(...)` trait
    /// replays one failing case (and always records an issue), so it cannot pin passing runs. A
    /// failure prints the shrunk scenario and the seed to paste into `.fixedSeed` to reproduce it.
    static let runs = 2_000

    private static func verdict(_ d: PolicyDecision) -> ReferenceModel.Verdict { d.verdict == .allow ? .allow : .deny }

    @Test func engineAgreesWithReferenceModel() async {
        await propertyCheck(count: Self.runs, input: PolicyGen.scenario) { s in
            let decision = s.engineVerdict()
            let expected = ReferenceModel.verdict(s.policies, s.request, s.workload)
            #expect(Self.verdict(decision) == expected, "engine: \(decision.reason)")
        }
    }

    /// The data plane asks without explanations: the same decision, reason, dry-run and audit
    /// results as `policy explain` gets, only without the per-rule sentences.
    @Test func theUnexplainedEvaluationDecidesTheSame() async {
        await propertyCheck(count: Self.runs, input: PolicyGen.scenario) { s in
            let engine = PolicyEngine(policies: s.policies, rootNamespace: ReferenceModel.rootNamespace)
            var explained = engine.evaluate(s.request, at: s.workload)
            let quick = engine.evaluate(s.request, at: s.workload, inScope: engine.policies(for: s.workload), explain: false)
            #expect(quick.considered.isEmpty)
            explained.considered = []
            #expect(quick == explained)
        }
    }

    @Test func aDenyEverythingPolicyForTheWorkloadAlwaysDenies() async {
        await propertyCheck(count: Self.runs, input: PolicyGen.scenario) { s in
            // In the workload's namespace or the root one, selecting it by name or selecting all.
            let namespace = s.pick % 2 == 0 ? s.workload.namespace : ReferenceModel.rootNamespace
            let selector = s.pick < 2 ? ["app": s.workload.name] : nil
            let denyAll = AuthorizationPolicy(name: "deny-all", namespace: namespace, action: .deny, selector: selector,
                                              rules: [AuthorizationPolicy.Rule()])
            let decision = s.engineVerdict(s.policies + [denyAll])
            #expect(decision.verdict == .deny, "engine: \(decision.reason)")
        }
    }

    @Test func withNoEnforcedAllowOrDenyInScopeEverythingIsAllowed() async {
        await propertyCheck(count: Self.runs, input: PolicyGen.scenario) { s in
            // Take every enforced ALLOW/DENY out of the decision: make it AUDIT, dry-run, or move it
            // to a namespace that does not apply to the workload.
            let neutral = s.policies.enumerated().map { i, p in
                var p = p
                guard !p.dryRun, p.action == .allow || p.action == .deny else { return p }
                switch (i + s.pick) % 3 {
                case 0: p.action = .audit
                case 1: p.dryRun = true
                default: p.namespace = "other"
                }
                return p
            }
            let decision = s.engineVerdict(neutral)
            #expect(decision.verdict == .allow, "engine: \(decision.reason)\nneutralised: \(neutral.map(Scenario.describe))")
        }
    }

    @Test func aDryRunCopyOfAPolicyNeverChangesTheVerdict() async {
        await propertyCheck(count: Self.runs, input: PolicyGen.scenario) { s in
            guard var copy = s.picked else { return }
            copy.name += "-dry-run"
            copy.dryRun = true
            let before = s.engineVerdict(), after = s.engineVerdict(s.policies + [copy])
            #expect(before.verdict == after.verdict, "before: \(before.reason); after: \(after.reason)")
            // A dry-run copy placed first must not change it either (order independence).
            let first = s.engineVerdict([copy] + s.policies)
            #expect(before.verdict == first.verdict, "before: \(before.reason); with the copy first: \(first.reason)")
        }
    }

    @Test func auditPoliciesNeverChangeTheVerdict() async {
        await propertyCheck(count: Self.runs, input: PolicyGen.scenario) { s in
            let with = s.engineVerdict()
            let without = s.engineVerdict(s.policies.filter { $0.action != .audit })
            #expect(with.verdict == without.verdict, "with AUDIT: \(with.reason); without: \(without.reason)")
            // An AUDIT copy of any policy (same rules, same scope) changes nothing either.
            guard var copy = s.picked else { return }
            copy.name += "-audit"
            copy.action = .audit
            let withCopy = s.engineVerdict(s.policies + [copy])
            #expect(with.verdict == withCopy.verdict, "before: \(with.reason); with an AUDIT copy: \(withCopy.reason)")
        }
    }

    /// The generators are useful only if every branch of the decision is reached often; guard that
    /// (deterministically enough: the bounds are far below the expected shares).
    @Test func generatorsReachEveryDecisionBranch() async {
        let counts = Counter()
        await propertyCheck(count: Self.runs, input: PolicyGen.scenario) { s in
            let decision = s.engineVerdict()
            await counts.add(decision.decidedBy == nil ? "\(decision.verdict)-by-default" : "\(decision.verdict)-by-rule")
        }
        let seen = await counts.counts
        for branch in ["allow-by-default", "allow-by-rule", "deny-by-default", "deny-by-rule"] {
            #expect(seen[branch, default: 0] >= Self.runs / 50, "branch \(branch) reached \(seen[branch, default: 0]) times: \(seen)")
        }
    }
}

actor Counter {
    var counts: [String: Int] = [:]
    func add(_ key: String) { counts[key, default: 0] += 1 }
}
