import DevMeshCore
import DevMeshTesting
import Foundation
import HTTPTypes
import NIOConcurrencyHelpers
import NIOCore
import Hummingbird
import HummingbirdTesting
import Testing

@testable import DevMeshAPI

/// Every endpoint through Hummingbird's router test client (no sockets), with a fake stack and
/// fake telemetry: what the API accepts, what it refuses (400 with a message), and its headers.
@Suite struct AdminAPITests {
    static let token = "secret-token"
    let stack = FakeStack()
    let telemetry = FakeTelemetry()

    func app() -> some ApplicationProtocol {
        Application(router: AdminAPI.router(control: stack, token: Self.token, telemetry: telemetry))
    }

    func json<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(buffer: response.body))
    }

    func error(_ response: TestResponse) -> String {
        (try? json([String: String].self, response)["error"]) ?? "<no error field in \(String(buffer: response.body))>"
    }

    // MARK: Status and services

    @Test func healthAndStatus() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect(String(buffer: $0.body) == "ok\n") }
            try await client.execute(uri: "/api/v1/status", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                let status = try json(StackStatus.self, response)
                #expect(status.services.map(\.name) == ["users", "orders"])
            }
        }
    }

    @Test func servicesCarryTrafficAndOtherSources() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/api/v1/services?window=5m", method: .get) { response in
                #expect(response.status == .ok)
                let overview = try json(ServicesOverview.self, response)
                #expect(overview.windowSeconds == 300)
                #expect(overview.services.map(\.name) == ["users", "orders"])
                let users = try #require(overview.services.first)
                #expect(users.metrics.requests == 3)
                #expect(users.metrics.errors == 1)
                #expect(users.metrics.p50Nanos == 2_000_000)
                #expect(users.metrics.p99Nanos == 3_000_000)
                #expect(users.replicas.first?.health == "healthy")
                #expect(overview.services[1].metrics == .idle, "a service without spans has zero traffic")
                #expect(overview.others.map(\.name) == ["devmesh-gateway"])
            }
            for bad in ["window=soon", "window=0s", "window=30d", "windo=1m"] {
                try await client.execute(uri: "/api/v1/services?\(bad)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                    #expect(error(response).contains("window"), "\(bad): \(error(response))")
                }
            }
        }
    }

    // MARK: Changes: token or same origin

    @Test func commandsNeedTheTokenOrTheUIsOrigin() async throws {
        try await app().test(.router) { client in
            let url = "/api/v1/services/users/restart"
            try await client.execute(uri: url, method: .post) { response in
                #expect(response.status == .forbidden)
                #expect(error(response).contains("X-Devmesh-Token"))
            }
            try await client.execute(uri: url, method: .post, headers: [.init("x-devmesh-token")!: "wrong"]) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: url, method: .post, headers: [.init("x-devmesh-token")!: Self.token]) {
                #expect($0.status == .accepted)
            }
            // The router test client names host `localhost`: the UI's own origin is http://localhost,
            // and its cookie is `devmesh_token_80`.
            let signedIn: HTTPFields = [.origin: "http://localhost", .cookie: "theme=dark; devmesh_token_80=\(Self.token)"]
            try await client.execute(uri: url, method: .post, headers: [.origin: "http://localhost"]) { response in
                #expect(response.status == .forbidden, "the UI's origin alone is not enough: a local process can forge it")
                #expect(error(response).contains("devmesh ui"))
            }
            try await client.execute(uri: url, method: .post, headers: [.origin: "http://localhost", .cookie: "devmesh_token_80=wrong"]) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: url, method: .post, headers: signedIn) { #expect($0.status == .accepted) }
            try await client.execute(uri: url, method: .post, headers: [.origin: "http://evil.test", .cookie: "devmesh_token_80=\(Self.token)"]) { response in
                #expect(response.status == .forbidden)
                #expect(error(response).contains("cross-origin"))
            }
            // A token does not make a cross-site browser request acceptable.
            try await client.execute(uri: url, method: .post, headers: [.origin: "http://localhost:1", .init("x-devmesh-token")!: Self.token]) {
                #expect($0.status == .forbidden)
            }
            var crossSite = signedIn
            crossSite[.init("sec-fetch-site")!] = "cross-site"
            try await client.execute(uri: url, method: .post, headers: crossSite) { response in
                #expect(response.status == .forbidden)
                #expect(error(response).contains("Sec-Fetch-Site"))
            }
            try await client.execute(uri: "/api/v1/services/nope/restart", method: .post, headers: signedIn) { response in
                #expect(response.status == .notFound)
                #expect(error(response).contains("users, orders"))
            }
            try await client.execute(uri: "/api/v1/services/users/explode", method: .post, headers: signedIn) { response in
                #expect(response.status == .notFound)
                #expect(error(response).contains("restart, stop or start"))
            }
        }
        try await app().test(.router) { client in
            try await client.execute(uri: "/api/v1/shutdown", method: .post) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/api/v1/shutdown", method: .post, headers: [.init("x-devmesh-token")!: Self.token]) {
                #expect($0.status == .accepted)
            }
        }
        #expect(stack.commands.withLockedValue { $0 } == ["restart users", "restart users", "shutdown"])
    }

    @Test func tokenInAPageAddressSignsTheUIIn() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/traces?service=users&token=\(Self.token)&attr=a%3Db%26c+d", method: .get) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/traces?service=users&attr=a%3Db%26c%20d", "the token leaves the address, the rest stays")
                #expect(response.headers[.setCookie] == "devmesh_token_80=\(Self.token); Path=/; HttpOnly; SameSite=Strict")
            }
            try await client.execute(uri: "/?token=nope", method: .get) { response in
                #expect(response.status == .forbidden)
                #expect(response.headers[.setCookie] == nil)
            }
            // Reads from another site are refused; the UI's own and the CLI's (no such header) are not.
            try await client.execute(uri: "/api/v1/status", method: .get, headers: [.init("sec-fetch-site")!: "cross-site"]) { response in
                #expect(response.status == .forbidden)
                #expect(error(response).contains("cross-site read refused"))
            }
            try await client.execute(uri: "/api/v1/status", method: .get, headers: [.init("sec-fetch-site")!: "same-origin"]) {
                #expect($0.status == .ok)
            }
            // A link from elsewhere to a page still opens it (shared URLs).
            try await client.execute(uri: "/traces", method: .get, headers: [.init("sec-fetch-site")!: "cross-site"]) {
                #expect($0.status == .ok)
            }
        }
    }

    // MARK: Traces

    @Test func traceSearchParsesEveryFilter() async throws {
        try await app().test(.router) { client in
            let query = "service=orders&path=/orders&status=error&min_duration=1ms&max_duration=2s&since=2026-11-26T09:30:00Z"
                + "&until=2026-11-26T11:30:00.5%2B01:00&attr=http.route%3D/orders/%7Bid%7D&attr=peer.service=users&attr=user_agent.original=a+b%2Bc&limit=7"
            try await client.execute(uri: "/api/v1/traces?\(query)", method: .get) { response in
                #expect(response.status == .ok)
                let traces = try json([TraceSummary].self, response)
                #expect(traces.count == 2)
            }
            let filter = try #require(telemetry.state.withLockedValue { $0.traceFilters.last })
            #expect(filter.service == "orders")
            #expect(filter.path == "/orders")
            #expect(filter.status == .error)
            #expect(filter.minDurationNanos == 1_000_000)
            #expect(filter.maxDurationNanos == 2_000_000_000)
            #expect(filter.sinceNanos == 1_795_685_400_000_000_000)
            #expect(filter.untilNanos == 1_795_689_000_500_000_000, "11:30:00.5 at +01:00 is 10:30:00.5Z")
            #expect(filter.attributes == [.init(key: "http.route", value: "/orders/{id}"), .init(key: "peer.service", value: "users"),
                                          .init(key: "user_agent.original", value: "a b+c")], "`+` is a space, `%2B` a plus")
            #expect(filter.limit == 7)
        }
    }

    @Test func badTraceParametersAre400WithWhatToFix() async throws {
        let cases: [(String, String)] = [
            ("status=teapot", "`status` must be"),
            ("min_duration=fast", "`min_duration` must be a duration"),
            ("max_duration=1x", "`max_duration` must be a duration"),
            ("min_duration=2s&max_duration=1s", "longer than `max_duration`"),
            ("since=yesterday", "`since` must be"),
            ("since=5m&until=10m", "not before `until`"),
            ("until_ns=-1", "`until_ns` must be Unix nanoseconds"),
            ("attr=novalue", "`attr` must be key=value"),
            ("attr=%3Dx", "`attr` must be key=value"),
            ("limit=0", "`limit` must be a positive number"),
            ("service=", "`service` is empty"),
            ("servic=orders", "unknown parameter `servic`"),
            ("since=2600-01-01T00:00:00Z", "`since` must be"),
            ("min_duration=" + String(repeating: "999999999s", count: 20), "`min_duration` must be a duration"),
        ]
        try await app().test(.router) { client in
            for (query, message) in cases {
                try await client.execute(uri: "/api/v1/traces?\(query)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(query)")
                    #expect(error(response).contains(message), "\(query): \(error(response))")
                }
            }
        }
    }

    @Test func traceDetailByIdOrPrefix() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/api/v1/traces/\(FakeTelemetry.traceA)", method: .get) { response in
                #expect(response.status == .ok)
                let detail = try json(TraceDetail.self, response)
                #expect(detail.spans.count == 3)
                #expect(detail.logs.map(\.body) == ["looked up user 1"])
                #expect(detail.spans[0].attributes["user_agent.original"] == "<script>alert(1)</script>", "JSON carries values as they are")
            }
            try await client.execute(uri: "/api/v1/traces/AAAAAAAA", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/traces/cccccccc", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(error(response).contains("no trace `cccccccc`"))
            }
            for bad in ["xyz", "abc", String(repeating: "a", count: 33)] {
                try await client.execute(uri: "/api/v1/traces/\(bad)", method: .get) { response in
                    #expect(response.status == .badRequest)
                    #expect(error(response).contains("32 hex digits"))
                }
            }
        }
    }

    @Test func compareMarksChangedSpans() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/api/v1/compare?a=\(FakeTelemetry.traceA)&b=\(FakeTelemetry.traceB)", method: .get) { response in
                #expect(response.status == .ok)
                let comparison = try json(TraceComparison.self, response)
                #expect(comparison.rows.map(\.change) == [.slower, .slower, .status, .added])
                #expect(comparison.rows.map(\.depth) == [0, 1, 1, 1])
                #expect(comparison.rows[1].deltaNanos == 18_000_000)
                #expect(comparison.a.traceID == FakeTelemetry.traceA)
                #expect(comparison.b.errorCount == 1)
            }
            try await client.execute(uri: "/api/v1/compare?a=\(FakeTelemetry.traceA)", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(error(response).contains("`b` is required"))
            }
            try await client.execute(uri: "/api/v1/compare?a=\(FakeTelemetry.traceA)&b=zz", method: .get) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/api/v1/compare?a=\(FakeTelemetry.traceA)&b=cccccccc", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(error(response).contains("(`b`)"))
            }
            try await client.execute(uri: "/api/v1/compare?a=1&b=2&c=3", method: .get) { #expect($0.status == .badRequest) }
        }
    }

    @Test func serviceGraph() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/api/v1/graph?since=1h", method: .get) { response in
                #expect(response.status == .ok)
                let graph = try json(ServiceGraph.self, response)
                #expect(graph.edges == [ServiceGraph.Edge(from: "orders", to: "users", calls: 2, errors: 1, p50Nanos: 2_000_000)])
                #expect(graph.nodes.map(\.name) == ["devmesh-gateway", "orders", "users"])
            }
            let since = try #require(telemetry.state.withLockedValue { $0.graphSince.last })
            let hourAgo = UInt64(Date().timeIntervalSince1970 * 1e9) - 3_600_000_000_000
            #expect(since <= hourAgo && since > hourAgo - 60_000_000_000)
            try await client.execute(uri: "/api/v1/graph?since=never", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(error(response).contains("`since` must be a duration"))
            }
        }
    }

    // MARK: Logs

    @Test func logsQueryAndLongPoll() async throws {
        for i in 1...3 {
            telemetry.append(TelemetryLog(id: Int64(i), timeNanos: UInt64(i), service: i == 2 ? "orders" : "users", instance: nil,
                                          stream: "stdout", body: "line \(i)"))
        }
        try await app().test(.router) { client in
            try await client.execute(uri: "/api/v1/logs?service=users&limit=10", method: .get) { response in
                let lines = try json([TelemetryLog].self, response)
                #expect(lines.map(\.body) == ["line 1", "line 3"])
            }
            for (query, message) in [("trace=nothex", "`trace` must be"), ("after=-1", "`after` must be"), ("wait=5s", "`wait` needs `after`"),
                                     ("after=1&wait=soon", "`wait` must be a duration"), ("grepp=x", "unknown parameter")] {
                try await client.execute(uri: "/api/v1/logs?\(query)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(query)")
                    #expect(error(response).contains(message), "\(query): \(error(response))")
                }
            }
            // Held until a line comes: the append happens while the request waits.
            async let held = client.execute(uri: "/api/v1/logs?after=3&wait=20s", method: .get) { response in
                try json([TelemetryLog].self, response).map(\.body)
            }
            while telemetry.state.withLockedValue({ $0.waiters.isEmpty }) { await Task.yield() }
            telemetry.append(TelemetryLog(id: 4, timeNanos: 4, service: "users", instance: nil, stream: "stdout", body: "line 4"))
            #expect(try await held == ["line 4"])
        }
    }

    // MARK: The UI's files and the OpenAPI document

    @Test func pagesServeTheAppWithAStrictPolicy() async throws {
        try await app().test(.router) { client in
            for page in ["/", "/traces", "/traces/\(FakeTelemetry.traceA)", "/compare", "/logs", "/map", "/requests", "/policies"] {
                try await client.execute(uri: page, method: .get) { response in
                    #expect(response.status == .ok, "\(page)")
                    #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
                    #expect(response.headers[.contentSecurityPolicy]?.contains("unsafe") == false)
                    #expect(response.headers[.init("x-frame-options")!] == "DENY")
                    #expect(response.headers[.xContentTypeOptions] == "nosniff")
                    #expect(String(buffer: response.body).contains("/ui/app.js"))
                }
            }
            let etag = try await client.execute(uri: "/ui/app.js", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect(response.body.readableBytes > 1000)
                return try #require(response.headers[.eTag])
            }
            try await client.execute(uri: "/ui/app.js", method: .get, headers: [.ifNoneMatch: etag]) {
                #expect($0.status == .notModified)
                #expect($0.body.readableBytes == 0)
            }
            try await client.execute(uri: "/ui/app.css", method: .get) { #expect($0.headers[.contentType] == "text/css; charset=utf-8") }
            try await client.execute(uri: "/ui/../state.json", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/ui/secrets.txt", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentSecurityPolicy] != nil, "errors carry the policy too")
            }
            try await client.execute(uri: "/nothing-here", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
        }
    }

    @Test func openAPIDocumentNamesEveryRoute() async throws {
        let document = try await app().test(.router) { client in
            try await client.execute(uri: "/api/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/yaml; charset=utf-8")
                return String(buffer: response.body)
            }
        }
        #expect(document.hasPrefix("openapi: 3.1"))
        let routes = ["/healthz", "/api/v1/status", "/api/v1/services", "/api/v1/services/{name}/{command}", "/api/v1/shutdown",
                      "/api/v1/traces", "/api/v1/traces/{id}", "/api/v1/compare", "/api/v1/graph", "/api/v1/logs",
                      "/api/v1/logs/stream", "/api/v1/policies", "/api/v1/policies/decisions", "/api/v1/policies/explain",
                      "/api/v1/requests", "/api/v1/requests/{id}", "/api/v1/requests/{id}/replay", "/api/v1/gateway/cache", "/api/v1/gateway/usage",
                      "/api/v1/externals", "/api/v1/externals/{name}/mode", "/api/openapi.yaml"]
        let documented = Set(document.split(separator: "\n").filter { $0.hasPrefix("  /") && $0.hasSuffix(":") }
            .map { String($0.dropFirst(2).dropLast()) })
        #expect(documented == Set(routes))
        // The copy in docs/ is the same file.
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.yaml")
        #expect(try String(contentsOf: docs, encoding: .utf8) == document)
    }

    // MARK: Externals

    @Test func externalModesSwitchWithTheTokenAndRefuseWhatIsWrong() async throws {
        let externals = FakeExternals()
        let app = Application(router: AdminAPI.router(control: stack, token: Self.token, telemetry: telemetry, externals: externals))
        let token: HTTPFields = [.init("x-devmesh-token")!: Self.token, .contentType: "application/json"]
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/v1/externals", method: .get) { response in
                #expect(response.status == .ok)
                let reports = try json([ExternalReport].self, response)
                #expect(reports.map(\.mode) == [.live])
            }
            let url = "/api/v1/externals/payments/mode"
            try await client.execute(uri: url, method: .put, body: ByteBuffer(string: #"{"mode": "replay"}"#)) {
                #expect($0.status == .forbidden, "switching needs the token")
            }
            try await client.execute(uri: url, method: .put, headers: token, body: ByteBuffer(string: #"{"mode": "offline"}"#)) { response in
                #expect(response.status == .badRequest)
                #expect(error(response).contains("live, record, replay, replay-or-live"))
            }
            try await client.execute(uri: url, method: .put, headers: token, body: ByteBuffer(string: "mode=replay")) {
                #expect($0.status == .badRequest)
            }
            try await client.execute(uri: "/api/v1/externals/maps/mode", method: .put, headers: token,
                                     body: ByteBuffer(string: #"{"mode": "replay"}"#)) { response in
                #expect(response.status == .notFound)
                #expect(error(response).contains("externals: payments"))
            }
            try await client.execute(uri: url, method: .put, headers: token, body: ByteBuffer(string: #"{"mode": "replay"}"#)) { response in
                #expect(response.status == .ok)
                let report = try json(ExternalReport.self, response)
                #expect(report.mode == .replay)
            }
            #expect(externals.externals().first?.mode == .replay)
        }
    }
}

/// One external, `payments`, whose mode the API switches.
final class FakeExternals: ExternalsInspecting, Sendable {
    private let mode = NIOLockedValueBox(ExternalConfig.Mode.live)

    func externals() -> [ExternalReport] {
        [ExternalReport(name: "payments", workload: "external-payments", url: "https://api.example", mode: mode.withLockedValue { $0 },
                        configuredMode: .live, callers: ["orders"], breaker: .closed, consecutiveFailures: 0, breakerOpenings: 0,
                        calls: 0, live: 0, replayed: 0, recorded: 0, misses: 0, failures: 0)]
    }

    func setMode(_ mode: ExternalConfig.Mode, of name: String) -> ExternalReport? {
        guard name == "payments" else { return nil }
        self.mode.withLockedValue { $0 = mode }
        return externals().first
    }
}
