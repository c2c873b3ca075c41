import DevMeshCore
import DevMeshStore
import DevMeshTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A request entering the stack yields one connected trace across every sidecar hop.
@Suite(.serialized, .timeLimit(.minutes(2))) struct MeshTraceTests {
    static let front = """
        import os, urllib.request
        from http.server import BaseHTTPRequestHandler, HTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                if self.path == "/healthz":
                    body = b"ok"
                else:
                    req = urllib.request.Request(os.environ["BACK_URL"] + "/data")
                    req.add_header("traceparent", self.headers.get("traceparent", ""))
                    body = b"front+" + urllib.request.urlopen(req, timeout=5).read()
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    /// Every span the stack stored (read after it stopped: the store is a plain SQLite file).
    static func spans(_ root: String) throws -> [TelemetrySpan] {
        let database = try TelemetryDatabase.openReadOnly(path: root + "/.devmesh/devmesh.db")
        defer { try? database.close() }
        return try database.recentSpans(limit: 100_000)
    }

    /// The stored spans once `ready` holds (the writer commits a few milliseconds after a request
    /// was answered), or what is there after 10 s.
    static func spans(_ root: String, until ready: ([TelemetrySpan]) -> Bool) async throws -> [TelemetrySpan] {
        let deadline = ContinuousClock.now + .seconds(10)
        var spans = try Self.spans(root)
        while !ready(spans), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            spans = try Self.spans(root)
        }
        return spans
    }

    @Test func aRequestThroughTheServicePortIsOneTraceAcrossAllHops() async throws {
        let stack = try TempStack([
            "front.py": Self.front,
            "back.py": httpAppPy,
            "Procfile": "front: python3 -u front.py\nback: python3 -u back.py\n",
            "devmesh.yaml": """
                services:
                  back:
                    replicas: 2
                    health: {http: /healthz}
                  front:
                    needs: [back]
                    upstreams: [back]
                    health: {http: /healthz}

                """,
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 2 services are ready"))
        let state = try #require(stack.state)
        let frontPort = try #require(state.ports.services["front"])
        let body = try String(contentsOf: URL(string: "http://127.0.0.1:\(frontPort)/page")!, encoding: .utf8)
        #expect(body == "front+back /data")
        // The service ports of both replicas of back answer too (balanced).
        let backPort = try #require(state.ports.services["back"])
        for _ in 0..<4 { _ = try String(contentsOf: URL(string: "http://127.0.0.1:\(backPort)/x")!, encoding: .utf8) }
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)

        let all = try Self.spans(stack.root)
        let trace = try #require(all.first { $0.name == "GET /page" && $0.attributes["devmesh.listener"] == "service" })
        let hops = all.filter { $0.traceID == trace.traceID }
        // service listener → front inbound → front egress → back inbound
        let entry = try #require(hops.first { $0.attributes["devmesh.listener"] == "service" })
        let frontIn = try #require(hops.first { $0.attributes["devmesh.listener"] == "inbound" && $0.service == "front" })
        let egress = try #require(hops.first { $0.attributes["devmesh.listener"] == "egress" })
        let backIn = try #require(hops.first { $0.attributes["devmesh.listener"] == "inbound" && $0.service == "back" })
        #expect(hops.count == 4)
        #expect(entry.parentSpanID == nil)
        #expect(entry.kind == .server)
        #expect(frontIn.parentSpanID == entry.spanID)
        #expect(frontIn.instance == "front.1")
        #expect(egress.parentSpanID == frontIn.spanID)
        #expect(egress.kind == .client)
        #expect(egress.service == "front")
        #expect(egress.attributes["peer.service"] == "back")
        #expect(backIn.parentSpanID == egress.spanID)
        #expect(backIn.name == "GET /data")
        #expect(["back.1", "back.2"].contains(backIn.instance))
        let backInstances = Set(all.filter { $0.service == "back" && $0.attributes["devmesh.listener"] == "inbound" }.compactMap(\.instance))
        #expect(backInstances == ["back.1", "back.2"], "the service listener balances over both replicas")
    }
}
