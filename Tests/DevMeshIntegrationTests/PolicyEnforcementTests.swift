import DevMeshCore
import DevMeshPolicy
import DevMeshTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Authorization through real sidecars: the path-bypass corpus behind `DENY paths: ["/admin*"]`
/// in each normalisation mode gives Istio's verdicts (the same as the engine's, which
/// `policy test` uses), what is denied never reaches the app, and `policy lint` names each bypass
/// the mode leaves open.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PolicyEnforcementTests {
    /// Prints every request target it gets, so a test can tell what reached it. Threaded: the
    /// sidecar keeps a pool per event loop, and a single-threaded server would sit on one idle
    /// pooled connection while another waits.
    static let app = """
        import os
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer as HTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                print("GOT " + self.path, flush=True)
                body = b"app"
                self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    static let policy = """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-admin, namespace: istio-system}
        spec:
          action: DENY
          rules:
            - to:
                - operation:
                    paths: ["/admin*"]
        """

    /// The corpus, and Istio's verdict per mode: 403 denied, 200 through to the app, 400 refused.
    static let corpus: [(path: String, base: Int, merge: Int, decode: Int)] = [
        ("/admin", 403, 403, 403),
        ("/admin/x", 403, 403, 403),
        ("/a/../admin", 403, 403, 403),
        ("/./admin", 403, 403, 403),
        ("/%2e%2e/admin", 403, 403, 403),
        ("/a/%2e%2e/admin", 403, 403, 403),
        ("//admin", 200, 403, 403),
        ("/x//../admin", 200, 200, 200),    // dot segments go first: `/x/admin`, then slashes merge
        ("/%61dmin", 403, 403, 403),
        ("/admin%2f", 403, 403, 403),
        ("/x%2f..%2fadmin", 200, 200, 403),
        ("/%5cadmin", 200, 200, 403),
        ("/ADMIN", 200, 200, 200),
        ("/Admin/x", 200, 200, 200),
        ("/admin;x", 403, 403, 403),
        ("/%252e%252e/admin", 200, 200, 200),
        ("/public", 200, 200, 200),
        ("/admin#f", 400, 400, 400),
        ("/x%00", 400, 400, 400),
    ]

    @Test(arguments: PolicyNormalization.allCases)
    func bypassCorpusGivesIstiosVerdicts(_ mode: PolicyNormalization) async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "app: python3 -u app.py\n",
            "devmesh.yaml": "services:\n  app: {health: {tcp: true}}\npolicies: [policies/]\npolicy_normalization: \(mode.rawValue)\nmtls: permissive\n",
        ])
        try FileManager.default.createDirectory(atPath: stack.root + "/policies", withIntermediateDirectories: true)
        try Self.policy.write(toFile: stack.root + "/policies/deny.yaml", atomically: true, encoding: .utf8)
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 1 service is ready"))
        let port = try #require(stack.state?.ports.services["app"])

        let engine = PolicyEngine(policies: PolicyDocuments.parse(Self.policy, file: "deny.yaml").authorizationPolicies)
        for (i, item) in Self.corpus.enumerated() {
            let expected = mode == .base ? item.base : mode == .mergeSlashes ? item.merge : item.decode
            // A marker in the query shows whether the request reached the app (the query is never normalised).
            let target = item.path.contains("#") ? item.path : item.path + "?n=\(i)"
            let reply = try await RawHTTPClient.exchange(port: port, "GET \(target) HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
            #expect(reply.statuses == [expected], "\(mode.rawValue) \(item.path): \(reply.text.prefix(120))")
            if expected == 403 { #expect(reply.text.hasSuffix("\r\n\r\nRBAC: access denied"), "Istio's body") }
            // The engine (what `policy test` runs) agrees with the sidecar.
            switch PathNormalization.policyPath(target, mode: mode) {
            case .failure: #expect(expected == 400, "\(item.path)")
            case .success(let path):
                let verdict = engine.evaluate(PolicyRequest(method: "GET", path: path), at: PolicyWorkload(name: "app"))
                #expect((verdict.verdict == .deny ? 403 : 200) == expected, "engine on \(item.path) in \(mode.rawValue)")
            }
        }
        // What reached the app: every 200, none of the 403s (the app prints each target it got).
        let reached = Self.corpus.indices.filter { i in
            let c = Self.corpus[i]
            return (mode == .base ? c.base : mode == .mergeSlashes ? c.merge : c.decode) == 200
        }
        for i in reached { #expect(await up.waitFor("?n=\(i)", timeout: .seconds(10)), "request \(i) reached the app") }
        for (i, item) in Self.corpus.enumerated() where (mode == .base ? item.base : mode == .mergeSlashes ? item.merge : item.decode) != 200 {
            #expect(!up.output.contains { $0.contains("GOT ") && $0.hasSuffix("?n=\(i)") }, "\(item.path) must not reach the app in \(mode.rawValue)")
        }
        // Normalised before the app: in MERGE modes the app sees `/public` for `//public`-like paths.
        let lint = try await DevMeshBinary.runDetached(["policy", "lint"], in: stack.root)
        #expect(lint.code == 0)
        switch mode {
        case .base:
            #expect(lint.stdout.contains("lets `//admin` through under BASE"), "\(lint.stdout)")
            #expect(lint.stdout.contains("`/ADMIN`"))
        case .mergeSlashes:
            #expect(!lint.stdout.contains("`//admin`"))
            #expect(lint.stdout.contains("`/ADMIN`"))
        case .decodeAndMergeSlashes:
            #expect(!lint.stdout.contains("`//admin`") && !lint.stdout.contains("%2F"))
            #expect(lint.stdout.contains("`/ADMIN`"))
        }
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }

    @Test func brokenPoliciesStopCheckAndUp() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "app: python3 -u app.py\n",
            "devmesh.yaml": "policies: [policies/]\n",
            "policies/bad.yaml": "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: bad}\nspec:\n  action: DENY\n  rules:\n    - to:\n        - operation: {pathz: [/admin]}\n",
        ])
        let check = try await DevMeshBinary.runDetached(["check"], in: stack.root)
        #expect(check.code == 1)
        #expect(check.stdout.contains("policies/bad.yaml:8:"), "\(check.stdout)")
        #expect(check.stdout.contains("unknown key `pathz`"))
        let up = try await DevMeshBinary.runDetached(["up"], in: stack.root)
        #expect(up.code != 0)
        #expect((up.stdout + up.stderr).contains("the authorization policies have errors"), "\(up.stdout)\(up.stderr)")
    }

    @Test func samplePoliciesPassTheirTestsAndAreEnforced() async throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Samples/shop").path
        let result = try await DevMeshBinary.runDetached(["policy", "test", "policies.test.yaml"], in: sample)
        #expect(result.code == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("21 passed, 0 failed"))
        let explain = try await DevMeshBinary.runDetached(["policy", "explain", "--to", "users", "--from", "frontend", "--path", "/users/42"], in: sample)
        #expect(explain.stdout.hasPrefix("DENY  GET /users/42 → users from frontend"), "\(explain.stdout)")
        #expect(explain.stdout.contains("default/users-read — ALLOW: no rule matches"))
        let failing = try TempStack(["cases.yaml": "cases:\n  - {name: wrong, to: users, from: orders, request: {method: DELETE, path: /users/1}, expect: allow}\n"])
        let fails = try await DevMeshBinary.runDetached(["policy", "test", failing.root + "/cases.yaml"], in: sample)
        #expect(fails.code == 1)
        #expect(fails.stdout.contains("FAIL  wrong"))
        #expect(fails.stdout.contains("expected allow, got deny"))
    }

    /// At the gateway the policies see the path the client sent (normalised), not the one a route
    /// rewrites for the upstream — the order of Envoy's filters on an Istio ingress gateway.
    @Test func gatewayPoliciesSeeTheClientsPathBeforeARouteRewritesIt() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "users: python3 -u app.py\n",
            "devmesh.yaml": """
                services:
                  users: {health: {tcp: true}}
                gateway:
                  routes: [{path: /api/users, to: users, strip_prefix: true}]
                policies: [policies/]

                """,
            "policies/edge.yaml": """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: edge-admin, namespace: istio-system}
                spec:
                  selector: {matchLabels: {istio: ingressgateway}}
                  action: DENY
                  rules: [{to: [{operation: {paths: ["/api/users/admin", "/api/users/admin/*"]}}]}]
                """,
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 1 service is ready"))
        let https = try #require(stack.state?.ports.gateway?["https"])
        func get(_ path: String) async throws -> String {
            try await GatewayTests.curl(["--path-as-is", "-H", "Host: localhost", "https://localhost:\(https)\(path)"]).status
        }
        #expect(try await get("/api/users/admin?n=1") == "403")
        #expect(try await get("/api/users/x/../admin?n=2") == "403", "normalised before the policy and the route")
        #expect(try await get("/api/users/1?n=3") == "200")
        #expect(await up.waitFor("GOT /1?n=3"), "the upstream gets the rewritten path")
        #expect(!up.output.contains { $0.contains("GOT /admin") })
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}
