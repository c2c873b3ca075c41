import DevMeshCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOConcurrencyHelpers
import Testing

@testable import DevMeshAPI

/// A policy set with one what-if answer: `explain` denies everything sent `to: users` from
/// anyone but orders, and records what it was asked.
final class FakePolicies: PolicyInspecting {
    let asked = NIOLockedValueBox<[WhatIfRequest]>([])

    func overview() -> PolicyOverview {
        PolicyOverview(normalization: "BASE", rootNamespace: "istio-system", mtls: "permissive", loadedAt: "2026-11-27T00:00:00Z",
                       reloads: 2, reloadError: nil, keyWarnings: [],
                       policies: [PolicyView(id: "default/users-read", kind: "AuthorizationPolicy", action: "ALLOW", dryRun: false,
                                             file: "policies/shop.yaml", line: 3, rules: 1, selects: ["users"])],
                       workloads: [WorkloadView(name: "users", namespace: "default", labels: ["app": "users"],
                                                principal: "cluster.local/ns/default/sa/users", policies: ["default/users-read"])],
                       lint: [])
    }

    func explain(_ request: WhatIfRequest) async throws -> ExplainView {
        asked.withLockedValue { $0.append(request) }
        let allowed = request.from == "orders"
        return ExplainView(outcome: allowed ? "allow" : "deny", detail: nil, reason: "fake", decidedBy: nil, considered: [],
                           dryRun: [], audited: [], unsupported: [])
    }
}

/// Records the decision filters asked for.
final class DecisionTelemetry: TelemetryQuerying {
    let filters = NIOLockedValueBox<[PolicyDecisionFilter]>([])
    func traces(_ filter: TraceFilter) async throws -> [TraceSummary] { [] }
    func trace(_ id: String) async throws -> TraceDetail? { nil }
    func logs(_ filter: LogFilter) async throws -> [TelemetryLog] { [] }
    func lastLogID() async throws -> Int64 { 0 }
    func waitForLogs(after id: Int64, timeout: Duration) async {}
    func traffic(sinceNanos: UInt64) async throws -> [String: TrafficMetrics] { [:] }
    func graph(sinceNanos: UInt64) async throws -> ServiceGraph { ServiceGraph(sinceNanos: sinceNanos, nodes: [], edges: [], truncated: false) }
    func policyDecisions(_ filter: PolicyDecisionFilter) async throws -> [PolicyDecisionRecord] {
        filters.withLockedValue { $0.append(filter) }
        return [PolicyDecisionRecord(timeNanos: 1, traceID: "ab", spanID: "cd", workload: "users", decision: "deny", policy: "default/users-read")]
    }
}

@Suite struct PolicyRoutesTests {
    static let token = "secret-token"
    let policies = FakePolicies()
    let telemetry = DecisionTelemetry()

    func app(withPolicies: Bool = true) -> some ApplicationProtocol {
        Application(router: AdminAPI.router(control: FakeStack(), token: Self.token, telemetry: telemetry,
                                            policies: withPolicies ? policies : nil))
    }

    func error(_ response: TestResponse) -> String {
        ((try? JSONDecoder().decode([String: String].self, from: Data(buffer: response.body)))?["error"]) ?? String(buffer: response.body)
    }

    @Test func overviewAndItsAbsence() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/api/v1/policies", method: .get) { response in
                #expect(response.status == .ok)
                let overview = try JSONDecoder().decode(PolicyOverview.self, from: Data(buffer: response.body))
                #expect(overview.policies.first?.selects == ["users"])
                #expect(String(buffer: response.body).contains("\"root_namespace\":\"istio-system\""))
            }
        }
        try await app(withPolicies: false).test(.router) { client in
            try await client.execute(uri: "/api/v1/policies", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(error(response).contains("policies: [policies/]"))
            }
        }
    }

    @Test func decisionsValidateTheirFilter() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/api/v1/policies/decisions?decision=deny&workload=users&limit=5", method: .get) { response in
                #expect(response.status == .ok)
                let rows = try JSONDecoder().decode([PolicyDecisionRecord].self, from: Data(buffer: response.body))
                #expect(rows.first?.policy == "default/users-read")
            }
            for (bad, names) in [("decision=maybe", "decision"), ("limit=0", "limit"), ("limit=x", "limit"), ("who=me", "who")] {
                try await client.execute(uri: "/api/v1/policies/decisions?\(bad)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                    #expect(error(response).contains(names), "\(bad): \(error(response))")
                }
            }
        }
        #expect(telemetry.filters.withLockedValue { $0 } == [PolicyDecisionFilter(decision: "deny", workload: "users", limit: 5)])
    }

    @Test func explainIsAPostWithTheTokenAndAJSONBody() async throws {
        try await app().test(.router) { client in
            let url = "/api/v1/policies/explain"
            let body = ByteBuffer(string: #"{"to": "users", "from": "orders", "method": "GET", "path": "/users/1", "claims": {"sub": "alice", "n": 1}}"#)
            try await client.execute(uri: url, method: .post, body: body) { #expect($0.status == .forbidden) }
            let signed: HTTPFields = [.init("x-devmesh-token")!: Self.token, .contentType: "application/json"]
            try await client.execute(uri: url, method: .post, headers: signed, body: body) { response in
                #expect(response.status == .ok)
                let view = try JSONDecoder().decode(ExplainView.self, from: Data(buffer: response.body))
                #expect(view.outcome == "allow")
            }
            #expect(policies.asked.withLockedValue { $0.first?.claims?["n"] } == .int(1))
            try await client.execute(uri: url, method: .post, headers: signed, body: ByteBuffer(string: #"{"from": "orders", "path": "/"}"#)) { response in
                #expect(response.status == .badRequest)
                #expect(error(response).contains("`to` is required"), "\(error(response))")
            }
            try await client.execute(uri: url, method: .post, headers: signed, body: ByteBuffer(string: "not json")) {
                #expect($0.status == .badRequest)
            }
            try await client.execute(uri: url, method: .post, headers: signed, body: ByteBuffer(repeating: UInt8(ascii: " "), count: 100_000)) {
                #expect($0.status == .contentTooLarge)
            }
        }
    }
}
