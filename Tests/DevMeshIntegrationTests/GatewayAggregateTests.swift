import DevMeshCore
import DevMeshTesting
import Foundation
import Testing

/// An `aggregate:` route through a real `devmesh up`, over TLS: two services' JSON merged under
/// their names, a slow one cut at its timeout and marked, and one trace showing the fan-out.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayAggregateTests {
    static let app = """
        import os, json, time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        NAME = os.environ["DEVMESH_SERVICE"]
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                print("GOT %s traceparent=%s" % (self.path, self.headers.get("traceparent")), flush=True)
                if NAME == "slow": time.sleep(3)
                if NAME == "text":
                    body = b"plain words"
                else:
                    body = json.dumps({"service": NAME, "path": self.path}).encode()
                self.send_response(200); self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    @Test func mergesAnswersMarksTheTimedOutOneAndTracesTheFanOut() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "users: python3 -u app.py\ninventory: python3 -u app.py\nslow: python3 -u app.py\ntext: python3 -u app.py\n",
            "devmesh.yaml": """
                services:
                  users: {health: {tcp: true}}
                  inventory: {health: {tcp: true}}
                  slow: {health: {tcp: true}}
                  text: {health: {tcp: true}}
                gateway:
                  routes:
                    - path: /api/summary/{id}
                      aggregate:
                        user: {to: users, path: "/users/{id}"}
                        stock: {to: inventory, path: /items/book}
                    - path: /api/partial
                      aggregate:
                        user: {to: users, path: /users/1}
                        late: {to: slow, path: /x, timeout: 300ms}
                        words: {to: text, path: /y}

                """,
        ])
        let check = try await DevMeshBinary.runDetached(["check"], in: stack.root)
        #expect(check.code == 0, "\(check.stdout)")
        let (up, https) = try await GatewayTests.up(stack, services: 4)
        let base = "https://localhost:\(https)"

        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        let whole = try await GatewayCacheTests.call(base, "/api/summary/7", ["-H", "traceparent: 00-\(traceID)-00f067aa0ba902b7-01"])
        #expect(whole.status == "200" && whole.field("content-type") == "application/json" && whole.field("x-devmesh-partial") == nil, "\(whole.fields)")
        let merged = try #require(try JSONSerialization.jsonObject(with: Data(whole.body.utf8)) as? [String: Any])
        #expect((merged["user"] as? [String: Any])?["path"] as? String == "/users/7", "captures fill the call's path: \(merged)")
        #expect((merged["stock"] as? [String: Any])?["service"] as? String == "inventory")
        #expect(merged["_devmesh"] == nil)

        let clock = ContinuousClock()
        let started = clock.now
        let partial = try await GatewayCacheTests.call(base, "/api/partial")
        #expect(clock.now - started < .seconds(2), "the slow call is cut at its 300 ms timeout, not waited for")
        #expect(partial.status == "200" && partial.field("x-devmesh-partial") == "late, words", "\(partial.fields)")
        let p = try #require(try JSONSerialization.jsonObject(with: Data(partial.body.utf8)) as? [String: Any])
        #expect((p["user"] as? [String: Any])?["service"] as? String == "users")
        #expect(p["late"] is NSNull && p["words"] is NSNull, "\(p)")
        let failed = try #require(((p["_devmesh"] as? [String: Any])?["failed"]) as? [String: Any], "\(p)")
        #expect((failed["late"] as? [String: Any])?["status"] as? Int == 504, "\(failed)")
        #expect(((failed["late"] as? [String: Any])?["error"] as? String)?.contains("300ms") == true, "\(failed)")
        #expect(((failed["words"] as? [String: Any])?["error"] as? String)?.contains("not JSON") == true, "\(failed)")
        #expect(try await GatewayCacheTests.call(base, "/api/partial", ["-X", "POST"]).status == "405")

        // One trace: the gateway's server span, a client span per call under it, and each service's server span under its call.
        var spans: [[String: Any]] = []
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            let shown = try await DevMeshBinary.runDetached(["trace", traceID, "--json"], in: stack.root)
            spans = ((try? JSONSerialization.jsonObject(with: Data(shown.stdout.utf8))) as? [String: Any])?["spans"] as? [[String: Any]] ?? []
            if spans.count >= 5 { break }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        let gateway = try #require(spans.first { $0["parentSpanID"] as? String == "00f067aa0ba902b7" }, "\(spans)")
        let calls = spans.filter { $0["parentSpanID"] as? String == gateway["spanID"] as? String && $0["kind"] as? String == "client" }
        #expect(calls.count == 2, "a client span per call: \(spans.map { ($0["name"] ?? "", $0["kind"] ?? "") })")
        for call in calls {
            #expect(spans.contains { $0["parentSpanID"] as? String == call["spanID"] as? String && $0["kind"] as? String == "server" },
                    "the service's sidecar joined under \(call["name"] ?? "")")
        }
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}
