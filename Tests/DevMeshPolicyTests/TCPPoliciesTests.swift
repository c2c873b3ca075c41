import DevMeshCore
import DevMeshPolicy
import Testing

/// AuthorizationPolicies on plain TCP connections, as Istio's TCP task shows them: L4 fields
/// (principals, namespaces, ipBlocks, ports) decide; a rule with HTTP-only fields never matches
/// in an ALLOW policy and loses those fields in a DENY policy (denying more).
@Suite struct TCPPoliciesTests {
    let echo = PolicyWorkload(name: "tcp-echo", namespace: "foo")
    let sleep = "cluster.local/ns/foo/sa/sleep"

    func verdict(_ yaml: String, port: Int, principal: String? = nil) -> PolicyDecision.Verdict {
        let parsed = PolicyDocuments.parse(yaml, file: "tcp.yaml")
        #expect(parsed.diagnostics.isEmpty, "\(parsed.diagnostics)")
        let engine = PolicyEngine(policies: parsed.authorizationPolicies).forTCP()
        return engine.evaluate(PolicyRequest(sourcePrincipal: principal, port: port, method: "", path: ""), at: echo).verdict
    }

    static func policy(_ action: String, _ rules: String) -> String {
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: foo}\nspec:\n  action: \(action)\n  rules: \(rules)\n"
    }

    @Test func allowByPort() {
        let yaml = Self.policy("ALLOW", #"[{to: [{operation: {ports: ["9000", "9001"]}}]}]"#)
        #expect(verdict(yaml, port: 9000) == .allow)
        #expect(verdict(yaml, port: 9002) == .deny)
    }

    @Test func anAllowRuleWithHTTPFieldsNeverMatches() {
        let yaml = Self.policy("ALLOW", #"[{to: [{operation: {methods: [GET], ports: ["9000"]}}]}]"#)
        #expect(verdict(yaml, port: 9000) == .deny, "the rule is ignored: the ALLOW policy allows nothing")
        let header = Self.policy("ALLOW", #"[{when: [{key: "request.headers[x-a]", values: ["1"]}]}]"#)
        #expect(verdict(header, port: 9000) == .deny)
        let token = Self.policy("ALLOW", #"[{from: [{source: {requestPrincipals: ["*"]}}]}]"#)
        #expect(verdict(token, port: 9000, principal: sleep) == .deny)
    }

    @Test func aDenyRuleWithHTTPFieldsDeniesMore() {
        let yaml = Self.policy("DENY", #"[{to: [{operation: {methods: [GET], ports: ["9000"]}}]}]"#)
        #expect(verdict(yaml, port: 9000) == .deny, "methods dropped: every connection to 9000 is denied")
        #expect(verdict(yaml, port: 9001) == .allow, "the port still counts")
        let token = Self.policy("DENY", #"[{from: [{source: {notRequestPrincipals: ["*"]}}]}]"#)
        #expect(verdict(token, port: 9001, principal: sleep) == .deny)
    }

    @Test func principalsDecide() {
        let yaml = Self.policy("ALLOW", #"[{from: [{source: {principals: ["cluster.local/ns/foo/sa/sleep"]}}]}]"#)
        #expect(verdict(yaml, port: 9000, principal: sleep) == .allow)
        #expect(verdict(yaml, port: 9000, principal: "cluster.local/ns/bar/sa/other") == .deny)
        #expect(verdict(yaml, port: 9000) == .deny)
    }

    @Test func lintNamesTheTrapOnTCPServices() {
        let yaml = Self.policy("ALLOW", #"[{to: [{operation: {methods: [GET]}}]}]"#)
            + "---\n" + Self.policy("DENY", #"[{to: [{operation: {paths: [/admin]}}]}]"#).replacingOccurrences(of: "name: p,", with: "name: d,")
        var workspace = PolicyWorkspace(policies: PolicyDocuments.parse(yaml, file: "tcp.yaml").authorizationPolicies,
                                        workloads: [echo])
        workspace.tcpServices = ["tcp-echo"]
        let warnings = PolicyLint.check(workspace).map(\.message)
        #expect(warnings.contains { $0.contains("foo/p: rule 0 names HTTP fields") && $0.contains("never allows a connection") }, "\(warnings)")
        #expect(warnings.contains { $0.contains("foo/d: rule 0 names HTTP fields") && $0.contains("denies more connections") }, "\(warnings)")
        workspace.tcpServices = []
        #expect(!PolicyLint.check(workspace).contains { $0.message.contains("HTTP fields") })
    }
}
