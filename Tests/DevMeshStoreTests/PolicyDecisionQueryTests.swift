import DevMeshCore
@testable import DevMeshStore
import Foundation
import Testing

/// Decisions recorded on sidecar hops come back from the store with their policy, rule, reason,
/// dry-run note and token identity, filtered and newest first; hops without one never appear.
@Suite struct PolicyDecisionQueryTests {
    @Test func decisionsRoundTripAndFilter() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let now = Fixtures.nowNanos()
            let notes: [PolicyNote?] = [
                nil,
                PolicyNote(decision: "allow", policy: "default/users-read", rule: 0, reason: "allowed by ALLOW policy default/users-read rule 0"),
                PolicyNote(decision: "deny", policy: "istio-system/no-admin", rule: 0, reason: "denied by DENY policy istio-system/no-admin rule 0",
                           dryRun: ["default/strict (dry-run) would deny: DENY default/strict rule 0 matches"]),
                PolicyNote(decision: "unauthenticated", reason: "Jwt is \"expired\"\\ at\nline\u{1} é✓"),
                PolicyNote(decision: "allow", reason: "allowed: valid token, and no policy applies", requestPrincipal: "https://issuer.test/alice"),
            ]
            for (i, note) in notes.enumerated() {
                var hop = Fixtures.hop(trace: Fixtures.id(i + 1, length: 32), span: Fixtures.id(i + 1, length: 16), parent: nil,
                                       service: i == 3 ? "devmesh-gateway" : "users", instance: "users.1", target: "/users/\(i)",
                                       status: [200, 200, 403, 401, 200][i], start: now + UInt64(i) * Fixtures.ms, duration: Fixtures.ms)
                hop.policy = note
                writer.record(hop: hop)
            }
            await writer.finish()

            let all = try db.policyDecisions(PolicyDecisionFilter())
            #expect(all.map(\.target) == ["/users/4", "/users/3", "/users/2", "/users/1"], "newest first, the hop without a decision left out")
            let denied = try #require(all.first { $0.decision == "deny" })
            #expect(denied.policy == "istio-system/no-admin")
            #expect(denied.rule == 0)
            #expect(denied.status == 403)
            #expect(denied.dryRun?.contains("would deny") == true)
            #expect(all.first?.requestPrincipal == "https://issuer.test/alice")
            #expect(try db.policyDecisions(PolicyDecisionFilter(decision: "unauthenticated")).map(\.workload) == ["devmesh-gateway"])
            // Quotes, backslashes, control characters and non-ASCII survive the hand-written JSON.
            #expect(try db.policyDecisions(PolicyDecisionFilter(decision: "unauthenticated")).first?.reason == "Jwt is \"expired\"\\ at\nline\u{1} é✓")
            #expect(try db.policyDecisions(PolicyDecisionFilter(decision: "dry-run")).map(\.target) == ["/users/2"])
            #expect(try db.policyDecisions(PolicyDecisionFilter(policy: "default/strict")).map(\.target) == ["/users/2"])
            #expect(try db.policyDecisions(PolicyDecisionFilter(workload: "users", limit: 1)).map(\.target) == ["/users/4"])
            // The trace search sees the same attributes.
            let traces = try db.traces(TraceFilter(attributes: [.init(key: "devmesh.policy.decision", value: "deny")]))
            #expect(traces.count == 1)
        }
    }
}
