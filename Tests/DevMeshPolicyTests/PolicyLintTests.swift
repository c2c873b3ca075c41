import DevMeshCore
@testable import DevMeshPolicy
import Testing

@Suite struct PolicyLintTests {
    static func workspace(_ yaml: String, mode: PolicyNormalization = .base, mtls: MTLSMode = .permissive) -> PolicyWorkspace {
        let parsed = PolicyDocuments.parse(yaml, file: "p.yaml")
        return PolicyWorkspace(policies: parsed.authorizationPolicies, workloads: [PolicyWorkload(name: "users"), PolicyWorkload(name: "orders")],
                               healthPaths: ["users": "/healthz"], normalization: mode, mtls: mtls)
    }

    static let denyAdmin = """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-admin, namespace: istio-system}
        spec:
          action: DENY
          rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
        """

    @Test func bypassesDependOnTheMode() {
        func requests(_ mode: PolicyNormalization) -> [String] { PolicyLint.bypasses(of: "/admin/*", mode: mode).map(\.request) }
        #expect(requests(.base) == ["//admin/x", "/admin%2Fx", "/ADMIN/X"])
        #expect(requests(.mergeSlashes) == ["/admin%2Fx", "/ADMIN/X"])
        #expect(requests(.decodeAndMergeSlashes) == ["/ADMIN/X"])
        let messages = PolicyLint.check(Self.workspace(Self.denyAdmin)).map(\.message)
        #expect(messages.contains { $0.contains("lets `//admin` through under BASE") })
        #expect(PolicyLint.check(Self.workspace(Self.denyAdmin, mode: .mergeSlashes)).allSatisfy { !$0.message.contains("`//admin`") })
    }

    @Test func trapsAreNamed() {
        let yaml = """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: users-only-orders}
            spec:
              selector: {matchLabels: {app: users}}
              rules:
                - from: [{source: {principals: ["cluster.local/ns/*/sa/orders"]}}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: nobody}
            spec:
              selector: {matchLabels: {app: billing}}
              rules: [{}]
            """
        let messages = PolicyLint.check(Self.workspace(yaml, mtls: .off)).map(\.message)
        #expect(messages.contains { $0.contains("`cluster.local/ns/*/sa/orders` has a `*` in the middle") })
        #expect(messages.contains { $0.contains("default/nobody: its selector app=billing matches no service") })
        #expect(messages.contains { $0.contains("`mtls: off` gives requests no principal") })
        #expect(messages.contains { $0.contains("users's health check (GET /healthz, no principal) is denied") })
        // A policy that lets the health check through: no such warning.
        let fine = PolicyLint.check(Self.workspace(Self.denyAdmin)).map(\.message)
        #expect(!fine.contains { $0.contains("health check") })
    }

    /// The JWT traps: a RequestAuthentication that no policy backs (tokens optional), and a
    /// gateway that strips the token before services whose policies need it.
    @Test func tokenTraps() {
        let requestAuthentication = """
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: istio-system}
            spec:
              jwtRules: [{issuer: "https://issuer.test", jwks: "{}"}]
            """
        let usersNeedToken = """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: users-token}
            spec:
              selector: {matchLabels: {app: users}}
              rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]
            """
        func warnings(_ yaml: String) -> [String] {
            let parsed = PolicyDocuments.parse(yaml, file: "p.yaml")
            let workspace = PolicyWorkspace(policies: parsed.authorizationPolicies,
                                            workloads: [PolicyWorkload(name: "users"), PolicyWorkload(name: "orders"),
                                                        PolicyWorkload(name: PolicyWorkspace.gateway, namespace: "istio-system")],
                                            authentications: parsed.requestAuthentications)
            return PolicyLint.check(workspace).map(\.message)
        }
        let alone = warnings(requestAuthentication)
        #expect(alone.contains { $0.contains("requests without a token still reach `devmesh-gateway`, `orders`, `users`") }, "\(alone)")
        let backed = warnings(requestAuthentication + "\n---\n" + usersNeedToken)
        #expect(backed.contains { $0.contains("still reach `devmesh-gateway`, `orders`:") }, "users is backed now: \(backed)")
        #expect(backed.contains { $0.contains("the gateway removes the token before forwarding") && $0.contains("`users`") }, "\(backed)")
        let forwarded = warnings(requestAuthentication.replacingOccurrences(of: "jwks: \"{}\"}", with: "jwks: \"{}\", forwardOriginalToken: true}")
                                 + "\n---\n" + usersNeedToken)
        #expect(!forwarded.contains { $0.contains("removes the token") }, "\(forwarded)")
    }
}
