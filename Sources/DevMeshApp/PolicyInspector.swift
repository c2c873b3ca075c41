import DevMeshAPI
import DevMeshAuth
import DevMeshCore
import DevMeshPolicy
import Foundation

/// A raw token in a test case or a what-if request, verified with the issuers' keys like a real
/// request's token (no RequestAuthentication for the workload: Istio ignores it).
public enum RawTokens {
    public static func resolve(_ c: PolicyTestCase, in workspace: PolicyWorkspace, keys: JWKSStore) async -> PolicyTestCase {
        guard let jwt = c.jwt, let workload = workspace.workloads[c.to] else { return c }
        var c = c
        let rules = workspace.authentications(for: workload).flatMap(\.jwtRules)
        guard !rules.isEmpty else {
            c.jwtVerdict = .ignored
            return c
        }
        switch await RequestAuthenticator(rules: rules, store: keys).verify(token: jwt) {
        case .authenticated(let a): c.jwtVerdict = .valid(a.claims)
        case .rejected(let why): c.jwtVerdict = .rejected(why.description)
        }
        return c
    }

    /// Loads the keys the workspace's RequestAuthentications name (for the CLI).
    public static func keys(for workspace: PolicyWorkspace, root: String) async -> (JWKSStore, [String]) {
        let store = JWKSStore()
        let warnings = await JWKSFetcher(root: root).load(workspace.authentications, into: store)
        return (store, warnings)
    }
}

/// The Policies page's view of the running stack's policies.
struct PolicyInspector: PolicyInspecting {
    let policies: MeshPolicies

    func overview() -> PolicyOverview {
        let workspace = policies.workspace
        let status = policies.status
        let workloads = workspace.workloads.values.sorted { $0.name < $1.name }
        var views: [PolicyView] = workspace.engine.policies.map { policy in
            PolicyView(id: policy.id, kind: "AuthorizationPolicy", action: policy.action.rawValue, dryRun: policy.dryRun,
                       file: policy.location?.file, line: policy.location?.line, rules: policy.rules.count,
                       selects: workloads.filter { workspace.engine.policies(for: $0).contains { $0.id == policy.id } }.map(\.name))
        }
        views += workspace.authentications.map { auth in
            PolicyView(id: auth.id, kind: "RequestAuthentication", action: nil, dryRun: false, file: auth.location?.file,
                       line: auth.location?.line, rules: auth.jwtRules.count,
                       selects: workloads.filter { workspace.authentications(for: $0).contains { $0.id == auth.id } }.map(\.name),
                       issuers: auth.jwtRules.map(\.issuer))
        }
        let workloadViews = workloads.map { w in
            WorkloadView(name: w.name, namespace: w.namespace, labels: w.labels, principal: workspace.principal(of: w.name) ?? "",
                         policies: workspace.engine.policies(for: w).map(\.id) + workspace.authentications(for: w).map(\.id))
        }
        let lint = PolicyLint.check(workspace).map {
            LintView(severity: $0.severity == .error ? "error" : "warning", message: $0.message, hint: $0.hint,
                     file: $0.location?.file, line: $0.location?.line)
        }
        return PolicyOverview(
            normalization: workspace.normalization.rawValue, rootNamespace: workspace.engine.rootNamespace, mtls: workspace.mtls.rawValue,
            loadedAt: ISO8601DateFormatter().string(from: status.loadedAt), reloads: status.reloads,
            reloadError: status.error, keyWarnings: status.keyWarnings, policies: views, workloads: workloadViews, lint: lint)
    }

    func explain(_ w: WhatIfRequest) async throws -> ExplainView {
        var c = PolicyTestCase(name: "what-if", to: w.to, expect: .allow)
        c.from = w.from.flatMap { $0.isEmpty ? nil : $0 }
        c.principal = w.principal.flatMap { $0.isEmpty ? nil : $0 }
        c.method = (w.method?.isEmpty == false ? w.method! : "GET").uppercased()
        c.path = w.path
        c.host = w.host.flatMap { $0.isEmpty ? nil : $0 }
        c.port = w.port
        c.sourceIP = w.sourceIP.flatMap { $0.isEmpty ? nil : $0 }
        c.headers = Dictionary((w.headers ?? [:]).map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        c.claims = w.claims
        c.jwt = w.jwt.flatMap { $0.isEmpty ? nil : $0 }
        let workspace = policies.workspace
        c = await RawTokens.resolve(c, in: workspace, keys: policies.keys)
        let result = workspace.run(c, nowSeconds: Int64(Date().timeIntervalSince1970))
        return Self.view(result)
    }

    static func view(_ result: PolicyTestResult) -> ExplainView {
        let outcome: String
        var detail: String?
        switch result.outcome {
        case .allow: outcome = "allow"
        case .deny: outcome = "deny"
        case .unauthenticated(let why): outcome = "unauthenticated"; detail = why
        case .badRequest(let why): outcome = "bad request"; detail = why
        case .invalid(let why): outcome = "invalid"; detail = why
        }
        let d = result.decision
        return ExplainView(
            outcome: outcome, detail: detail, reason: d?.reason, decidedBy: d?.decidedBy?.description,
            considered: (d?.considered ?? []).map {
                .init(policy: $0.policy, action: $0.action, dryRun: $0.dryRun, matchedRule: $0.matchedRule, why: $0.why)
            },
            dryRun: d?.dryRun ?? [], audited: (d?.audited ?? []).map(\.description), unsupported: d?.unsupported ?? [])
    }
}
