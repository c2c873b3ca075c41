import DevMeshCore
import DevMeshTesting
import Foundation
import Testing

/// `cache: true` through a real `devmesh up`, over TLS with curl: what is stored, what is not,
/// variants, revalidation, stale answers when the service is down, and purges.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayCacheTests {
    /// Each path answers with how many times the service was asked for it.
    static let app = """
        import os, collections
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        hits = collections.Counter()
        HEADERS = {
            "/catalog": [("Cache-Control", "max-age=60"), ("ETag", '"c1"')],
            "/nostore": [("Cache-Control", "no-store")],
            "/private": [("Cache-Control", "private, max-age=60")],
            "/vary": [("Cache-Control", "max-age=60"), ("Vary", "Accept-Language")],
            "/etag": [("Cache-Control", "no-cache"), ("ETag", '"v1"')],
            "/plain": [],
        }
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                path = self.path.split("?")[0]
                hits[path] += 1
                print("GOT %s inm=%s n=%d" % (self.path, self.headers.get("if-none-match"), hits[path]), flush=True)
                if path == "/etag" and self.headers.get("if-none-match") == '"v1"':
                    self.send_response(304); self.send_header("ETag", '"v1"'); self.end_headers(); return
                body = ("%s %d %s" % (path, hits[path], self.headers.get("accept-language", "-"))).encode()
                self.send_response(200)
                for k, v in HEADERS.get(path, []): self.send_header(k, v)
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            do_HEAD = do_GET
            def do_PUT(self):
                n = int(self.headers.get("content-length", "0")); self.rfile.read(n)
                self.send_response(204); self.end_headers()
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    struct Answer {
        var status: String
        var fields: [String]
        var body: String

        func field(_ name: String) -> String? {
            fields.first { $0.hasPrefix(name + ": ") }.map { String($0.dropFirst(name.count + 2)) }
        }
    }

    /// Status, head fields (lower-cased) and body of one call.
    static func call(_ base: String, _ path: String, _ args: [String] = []) async throws -> Answer {
        let run = try await GatewayTests.tool("/usr/bin/curl", ["-sS", "--max-time", "10", "--cacert", TestHome.path + "/ca/ca.pem",
                                                          "-D", "/dev/stdout", "--http1.1"] + args + [base + path])
        let parts = run.out.components(separatedBy: "\r\n\r\n")
        let head = parts.first?.components(separatedBy: "\r\n").map { $0.lowercased() } ?? []
        return Answer(status: String(head.first?.split(separator: " ").dropFirst().first ?? ""), fields: head,
                      body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test func storedAnswersFollowTheServicesCacheControl() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "api: python3 -u app.py\n",
            "devmesh.yaml": """
                services:
                  api: {health: {tcp: true}}
                gateway:
                  routes:
                    - {path: /, to: api, cache: true}

                """,
        ])
        let check = try await DevMeshBinary.runDetached(["check"], in: stack.root)
        #expect(check.code == 0 && !check.stdout.contains("not implemented"), "\(check.stdout)")
        let (up, https) = try await GatewayTests.up(stack, services: 1)
        let base = "https://localhost:\(https)"

        let first = try await Self.call(base, "/catalog")
        #expect(first.status == "200" && first.field("x-devmesh-cache") == "miss" && first.body == "/catalog 1 -", "\(first)")
        let second = try await Self.call(base, "/catalog")
        #expect(second.field("x-devmesh-cache") == "hit" && second.body == "/catalog 1 -", "served without the service: \(second)")
        #expect(second.field("age") != nil && second.field("etag") == "\"c1\"" && second.field("content-length") == "12")
        // HEAD is answered from the stored GET (`-I` prints the head once more as curl's own output).
        let head = try await Self.call(base, "/catalog", ["-I"])
        #expect(head.field("x-devmesh-cache") == "hit" && head.field("content-length") == "12", "\(head)")
        #expect(!head.body.contains("/catalog"), "no body for HEAD: \(head.body)")
        let bypass = try await Self.call(base, "/catalog", ["-H", "Cache-Control: no-store"])
        #expect(bypass.field("x-devmesh-cache") == "bypass" && bypass.body == "/catalog 2 -", "\(bypass)")
        let reload = try await Self.call(base, "/catalog", ["-H", "Cache-Control: no-cache"])
        #expect(reload.field("x-devmesh-cache") == "miss" && reload.body == "/catalog 3 -", "no-cache asks the service: \(reload)")

        for n in 1...2 {
            let a = try await Self.call(base, "/nostore")
            #expect(a.field("x-devmesh-cache") == "miss" && a.body == "/nostore \(n) -", "no-store is never stored: \(a)")
            #expect(a.field("x-devmesh-cache-detail") == "not stored: the response says no-store")
            let p = try await Self.call(base, "/private")
            #expect(p.field("x-devmesh-cache") == "miss" && p.body == "/private \(n) -", "private is never stored in a shared cache")
            let plain = try await Self.call(base, "/plain")
            #expect(plain.field("x-devmesh-cache") == "miss" && plain.body == "/plain \(n) -", "no freshness, no validator")
        }

        #expect(try await Self.call(base, "/vary", ["-H", "Accept-Language: en"]).body == "/vary 1 en")
        #expect(try await Self.call(base, "/vary", ["-H", "Accept-Language: fr"]).body == "/vary 2 fr", "another variant")
        let en = try await Self.call(base, "/vary", ["-H", "Accept-Language: en"])
        #expect(en.field("x-devmesh-cache") == "hit" && en.body == "/vary 1 en", "each variant answers its own: \(en)")
        #expect(try await Self.call(base, "/vary", ["-H", "Accept-Language: fr"]).body == "/vary 2 fr")

        #expect(try await Self.call(base, "/etag").body == "/etag 1 -")
        let revalidated = try await Self.call(base, "/etag")
        #expect(revalidated.field("x-devmesh-cache") == "revalidated" && revalidated.status == "200" && revalidated.body == "/etag 1 -",
                "a 304 confirms the stored answer, which the client gets whole: \(revalidated)")
        #expect(await up.waitFor("GOT /etag inm=\"v1\" n=2"), "devmesh asked with the stored ETag")

        let auth = try await Self.call(base, "/catalog", ["-H", "Authorization: Bearer x"])
        #expect(auth.field("x-devmesh-cache") == "miss" && auth.field("x-devmesh-cache-detail")?.contains("credentials") == true,
                "a response to a request with credentials is stored only when public: \(auth)")

        // A successful change of the resource takes its stored answers out (RFC 9111 §4.4).
        #expect(try await Self.call(base, "/vary", ["-X", "PUT", "-d", "x"]).status == "204")
        #expect(try await Self.call(base, "/vary", ["-H", "Accept-Language: en"]).field("x-devmesh-cache") == "miss", "invalidated by the PUT")

        let purged = try await DevMeshBinary.runDetached(["cache", "purge", "/catalog"], in: stack.root)
        #expect(purged.code == 0 && purged.stdout.contains("purged 1 stored answer"), "\(purged)")
        #expect(try await Self.call(base, "/catalog").field("x-devmesh-cache") == "miss", "purged")
        let shown = try await DevMeshBinary.runDetached(["cache", "--json"], in: stack.root)
        let report = try JSONDecoder().decode(GatewayCacheReport.self, from: Data(shown.stdout.utf8))
        #expect(report.stats.hits == 4 && report.stats.revalidated == 1 && report.stats.bypassed == 2 && report.stats.purged == 3,
                "\(report.stats)")
        #expect(report.entries.contains { $0.path == "/vary" && $0.vary == ["accept-language=en"] }, "\(report.entries)")

        // The service goes away: a stored answer that must be revalidated is served stale instead of a 502.
        let stopped = try await DevMeshBinary.runDetached(["stop", "api"], in: stack.root)
        #expect(stopped.code == 0)
        var stale = try await Self.call(base, "/catalog", ["-H", "Cache-Control: max-age=0"])
        let deadline = ContinuousClock.now + .seconds(10)
        while stale.field("x-devmesh-cache") != "stale", ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))  // until the replica is out of the endpoint set
            stale = try await Self.call(base, "/catalog", ["-H", "Cache-Control: max-age=0"])
        }
        #expect(stale.status == "200" && stale.field("x-devmesh-cache") == "stale", "\(stale)")
        #expect(try await Self.call(base, "/nostore").status.hasPrefix("5"), "nothing stored: the service's absence shows")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}
