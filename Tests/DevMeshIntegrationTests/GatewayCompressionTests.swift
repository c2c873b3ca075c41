import DevMeshCore
import DevMeshTesting
import Foundation
import Testing

/// `compress: true` through a real `devmesh up`, over TLS with curl (which gunzips with `--compressed`).
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayCompressionTests {
    static let app = """
        import os, gzip, json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        BIG = json.dumps({"items": [{"id": i, "name": "item %d" % i, "price": i * 3} for i in range(200)]}).encode()
        ANSWERS = {
            "/big": ([("Content-Type", "application/json"), ("ETag", '"b1"')], BIG),
            "/small": ([("Content-Type", "application/json")], b'{"ok": true}'),
            "/pre": ([("Content-Type", "application/json"), ("Content-Encoding", "gzip")], gzip.compress(BIG)),
            "/image": ([("Content-Type", "image/png")], bytes(range(256)) * 20),
            "/cached": ([("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "max-age=60")], b"line\\n" * 2000),
            "/no-transform": ([("Content-Type", "application/json"), ("Cache-Control", "no-transform")], BIG),
        }
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                fields, body = ANSWERS[self.path]
                self.send_response(200)
                for k, v in fields: self.send_header(k, v)
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    @Test func gzipOnlyWhenAcceptedWorthItAndNotDoneAlready() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "api: python3 -u app.py\n",
            "devmesh.yaml": """
                services:
                  api: {health: {tcp: true}}
                gateway:
                  routes:
                    - {path: /, to: api, compress: true, cache: true}

                """,
        ])
        let (up, https) = try await GatewayTests.up(stack, services: 1)
        let base = "https://localhost:\(https)"
        let plain = try await GatewayCacheTests.call(base, "/big")
        #expect(plain.field("content-encoding") == nil && plain.field("vary") == "accept-encoding", "not asked for: \(plain.fields)")
        let expected = plain.body
        #expect(expected.count > 5000)

        let zipped = try await GatewayCacheTests.call(base, "/big", ["--compressed"])
        #expect(zipped.field("content-encoding") == "gzip" && zipped.field("transfer-encoding") == "chunked", "\(zipped.fields)")
        #expect(zipped.field("etag") == "w/\"b1\"", "the gzipped bytes are another representation: \(zipped.fields)")
        #expect(zipped.body == expected, "curl gunzips it back to the same JSON")
        let size = try await GatewayTests.tool("/usr/bin/curl", ["-sS", "--cacert", TestHome.path + "/ca/ca.pem", "-H", "Accept-Encoding: gzip",
                                                                 "-o", "/dev/null", "-w", "%{size_download}", base + "/big"])
        #expect((Int(size.out) ?? .max) < expected.count / 3, "compressed on the wire: \(size.out) of \(expected.count) bytes")
        let refused = try await GatewayCacheTests.call(base, "/big", ["-H", "Accept-Encoding: gzip;q=0, *"])
        #expect(refused.field("content-encoding") == nil, "q=0 refuses gzip")

        let h2 = try await GatewayCacheTests.call(base, "/big", ["--http2", "--compressed"])
        #expect(h2.fields.first?.hasPrefix("http/2") == true && h2.field("content-encoding") == "gzip" && h2.body == expected, "\(h2.fields)")

        #expect(try await GatewayCacheTests.call(base, "/small", ["--compressed"]).field("content-encoding") == nil, "under 1 KiB")
        #expect(try await GatewayCacheTests.call(base, "/image", ["--compressed"]).field("content-encoding") == nil, "PNG is compressed already")
        #expect(try await GatewayCacheTests.call(base, "/no-transform", ["--compressed"]).field("content-encoding") == nil, "no-transform")
        let pre = try await GatewayCacheTests.call(base, "/pre", ["--compressed"])
        #expect(pre.field("content-encoding") == "gzip" && pre.body == expected, "never twice: one gunzip gives the JSON")

        let miss = try await GatewayCacheTests.call(base, "/cached", ["--compressed"])
        let hit = try await GatewayCacheTests.call(base, "/cached", ["--compressed"])
        let hitPlain = try await GatewayCacheTests.call(base, "/cached")
        #expect(miss.field("x-devmesh-cache") == "miss" && hit.field("x-devmesh-cache") == "hit", "\(hit.fields)")
        #expect(miss.field("content-encoding") == "gzip" && hit.field("content-encoding") == "gzip" && hitPlain.field("content-encoding") == nil)
        #expect(hit.body == String(repeating: "line\n", count: 2000) && hitPlain.body == hit.body, "one stored answer, served both ways")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}
