import DevMeshCore
import DevMeshTesting
import Foundation
import Testing

/// The gateway's usage counts through a real `devmesh up`: what `status --json` and the API
/// report matches, request for request, what the test sent.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayUsageTests {
    static let app = """
        import os
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                status = 500 if self.path.startswith("/api/boom") else 200
                self.send_response(status); self.send_header("Cache-Control", "max-age=60")
                self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    @Test func countsPerRouteAndCallerMatchTheRequestsSent() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "api: python3 -u app.py\nweb: python3 -u app.py\n",
            "keys.txt": APIKeysFixture.file,
            "devmesh.yaml": """
                services:
                  api: {health: {tcp: true}}
                  web: {health: {tcp: true}}
                gateway:
                  routes:
                    - {path: /api, to: api, auth: {api_keys: keys.txt}, rate_limit: {requests: 3, per: 1m, by: key}}
                    - {path: /open, to: web, cache: true}

                """,
        ])
        let (up, https) = try await GatewayTests.up(stack, services: 2)
        let base = "https://localhost:\(https)"
        func status(_ args: [String], _ url: String) async throws -> String {
            try await GatewayTests.fields(args, url).status
        }
        let mobile = ["-H", "X-Api-Key: mobile-key-123"], partner = ["-H", "X-Api-Key: partner-key-456"]
        var sent: [String] = []
        for n in 0..<4 { sent.append(try await status(mobile, base + "/api/items?n=\(n)")) }
        #expect(sent == ["200", "200", "200", "429"])
        #expect(try await status(partner, base + "/api/boom") == "500")
        #expect(try await status(partner, base + "/api/items") == "200")
        #expect(try await status([], base + "/api/items") == "401")
        #expect(try await status(["-H", "X-Api-Key: wrong"], base + "/api/items") == "401")
        for _ in 0..<3 { #expect(try await status([], base + "/open/page") == "200") }
        #expect(try await status([], "https://web.localhost:\(https)/direct") == "200")
        #expect(try await status(["-H", "Host: nowhere.example"], "http://127.0.0.1:\(try #require(stack.state?.ports.gateway?["http"]))/") == "421")

        let shown = try await DevMeshBinary.runDetached(["status", "--json"], in: stack.root)
        let decoded = try JSONDecoder().decode(StackStatus.self, from: Data(shown.stdout.utf8))
        let usage = try #require(decoded.gateway, "\(shown.stdout)")
        let api = try #require(usage.routes.first { (r: GatewayUsageReport.Route) in r.index == 0 })
        #expect(api.route == "/api → api" && api.auth == "api_keys")
        let counts = api.counts
        #expect(counts.requests == 8, "\(counts)")
        #expect(counts.rateLimited == 1 && counts.unauthenticated == 2 && counts.errors == 1, "\(counts)")
        let latency = try #require(counts.latency)
        #expect(latency.p50 > 0 && latency.p50 <= latency.p99 && latency.p99 <= latency.max * 1.2, "\(latency)")
        let callers: [GatewayUsageReport.Caller] = api.callers
        let m = try #require(callers.first { (c: GatewayUsageReport.Caller) in c.kind == "key" && c.name == "mobile" })
        #expect(m.counts.requests == 4 && m.counts.rateLimited == 1, "\(m)")
        #expect(m.remaining == 0, "\(m)")
        let p = try #require(callers.first { (c: GatewayUsageReport.Caller) in c.kind == "key" && c.name == "partner" })
        #expect(p.counts.requests == 2 && p.counts.errors == 1, "\(p)")
        #expect(p.remaining == 1, "\(p)")
        let anonymous = try #require(callers.first { (c: GatewayUsageReport.Caller) in c.kind == "anonymous" })
        #expect(anonymous.counts.requests == 2 && anonymous.counts.unauthenticated == 2)
        #expect(api.rateLimit?.requests == 3 && api.rateLimit?.by == "key" && api.rateLimit?.per == "1m")
        let active: [GatewayUsageReport.Allowance] = api.rateLimit?.active ?? []
        #expect(active.contains { (a: GatewayUsageReport.Allowance) in a.key == "key mobile" && a.remaining == 0 }, "\(active)")
        let open = try #require(usage.routes.first { (r: GatewayUsageReport.Route) in r.index == 1 })
        #expect(open.counts.requests == 3 && open.counts.cacheHits == 2, "\(open.counts)")
        #expect(open.rateLimit == nil)
        #expect(usage.automaticHosts.requests == 1, "\(usage.automaticHosts)")
        #expect(usage.unrouted.requests == 1, "\(usage.unrouted)")

        let table = try await DevMeshBinary.runDetached(["status"], in: stack.root)
        let text = table.stdout
        #expect(text.contains("GATEWAY ROUTE") && text.contains("/api → api (api_keys)"), "\(text)")
        #expect(text.contains("key mobile") && text.contains("(0/3 left)"), "\(text)")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}
