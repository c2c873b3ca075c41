import DevMeshCore
import DevMeshSupervisor
import DevMeshTesting
import Foundation
import Testing

/// Record and replay through a real `devmesh up`: the gateway and a `record: true` service
/// record; secrets never reach the db file; `devmesh replay` diffs with paths, names what it did
/// not compare, counts what ignore rules suppressed, needs a fresh token where the recorded one
/// was redacted, and never diffs a truncated body as if complete; suites exit 1 on a
/// difference and 0 on none; HAR goes out and back in; the API replays with `replay.auth`.
@Suite(.serialized, .timeLimit(.minutes(4))) struct RecordReplayTests {
    static let token = "tok-Secret-9c1e55aa"
    static let password = "pw-hunter2-Secret"

    /// Answers only with the right bearer token; its price comes from a file the test edits.
    static let app = """
        import os, json, time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        TOKEN = "Bearer \(token)"
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def reply(self, status, obj, extra=None):
                body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(obj, bytes) else "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Request-Id", str(time.time()))
                for k, v in (extra or {}).items(): self.send_header(k, v)
                self.end_headers(); self.wfile.write(body)
            def do_GET(self):
                if self.path.startswith("/big"):
                    return self.reply(200, b"x" * (2 * 1024 * 1024))
                if self.headers.get("authorization") != TOKEN:
                    return self.reply(401, {"error": "token required"})
                price = int(open("price.txt").read().strip())
                self.reply(200, {"items": [{"id": 1, "price": price}], "at": time.time(), "echo": self.headers.get("authorization")})
            def do_POST(self):
                data = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                self.reply(201, {"user": data.get("user"), "session": "sess-" + data.get("password", "")[:6] + "-Secret"})
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    func devmesh(_ args: [String], in root: String, env: [String: String] = [:]) async throws -> (code: Int32, out: String, err: String) {
        let r = try await DevMeshBinary.runDetached(args, in: root, environment: env)
        return (r.code, r.stdout, r.stderr)
    }

    /// Recordings land on the writer thread, milliseconds after the answers: asked until there.
    func recordings(_ root: String, atLeast n: Int, service: String = "devmesh-gateway") async throws -> [RecordingSummary] {
        let deadline = ContinuousClock.now + .seconds(10)
        var list: [RecordingSummary] = []
        repeat {
            let r = try await devmesh(["requests", "--json", "--service", service, "--limit", "100"], in: root)
            #expect(r.code == 0, "\(r.err)")
            list = try JSONDecoder().decode([RecordingSummary].self, from: Data(r.out.utf8))
            if list.count >= n { break }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        return list
    }

    @Test func recordRedactReplayDiffSuitesAndHAR() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "price.txt": "10\n",
            "Procfile": "shop: python3 -u app.py\n",
            "devmesh.yaml": """
                services:
                  shop: {health: {tcp: true}, record: true}
                gateway:
                  routes:
                    - {path: /, to: shop}
                recording: {max_body: 64KiB}
                replay:
                  auth: {bearer: "${SHOP_TOKEN}"}

                """,
        ])
        let up = try RunningUp(in: stack.root, environment: ["SHOP_TOKEN": Self.token])
        #expect(await up.waitFor("all 1 service is ready"))
        let https = try #require(stack.state?.ports.gateway?["https"])
        let base = "https://localhost:\(https)"

        // Traffic with secrets in a header, a query parameter, a JSON body and an echoed answer.
        let ok = try await GatewayTests.curl(["-H", "Authorization: Bearer \(Self.token)", "\(base)/items?api_key=\(Self.password)&page=1"])
        #expect(ok.status == "200", "\(ok.body)")
        #expect(ok.body.contains(Self.token), "the app echoes the token it got")
        let login = try await GatewayTests.curl(["-X", "POST", "-H", "Content-Type: application/json",
                                           "-d", "{\"user\":\"ann\",\"password\":\"\(Self.password)\"}", "\(base)/login"])
        #expect(login.status == "201", "\(login.body)")
        let big = try await GatewayTests.curl(["-o", "/dev/null", "\(base)/big"])
        #expect(big.status == "200")

        let list = try await recordings(stack.root, atLeast: 3)
        let items = try #require(list.first { $0.target.hasPrefix("/items") })
        let loginID = try #require(list.first { $0.target == "/login" }?.id)
        let bigRecording = try #require(list.first { $0.target == "/big" })
        #expect(items.status == 200 && items.redactions >= 3, "\(items)")
        #expect(items.target.contains("api_key=[redacted:"), "\(items.target)")
        #expect(bigRecording.responseTruncated && bigRecording.responseSize == 2 * 1024 * 1024, "\(bigRecording)")
        // The sidecar of the `record: true` service recorded them too (its own copy, same trace).
        let inbound = try await recordings(stack.root, atLeast: 3, service: "shop")
        #expect(inbound.contains { $0.traceID == items.traceID && $0.listener == "inbound" })

        // No secret in any byte of the database (spans included), before or after checkpoints.
        func secretsInDatabase() throws -> [String] {
            let files = try FileManager.default.contentsOfDirectory(atPath: stack.root + "/.devmesh").filter { $0.hasPrefix("devmesh.db") }
            var found: [String] = []
            for file in files {
                let data = try Data(contentsOf: URL(fileURLWithPath: stack.root + "/.devmesh/" + file))
                for secret in [Self.token, Self.password] where data.range(of: Data(secret.utf8)) != nil {
                    found.append("\(secret) in \(file)")
                }
            }
            return found
        }
        #expect(try secretsInDatabase().isEmpty)
        let detail = try await devmesh(["requests", String(items.id)], in: stack.root)
        #expect(detail.out.contains("authorization: Bearer [redacted:") || detail.out.contains("Authorization: Bearer [redacted:"), "\(detail.out)")

        // Without a fresh token the replay gets 401: a difference, and the output says why.
        let noToken = try await devmesh(["replay", String(items.id)], in: stack.root, env: ["SHOP_TOKEN": ""])
        #expect(noToken.code == 1, "\(noToken.out)\(noToken.err)")
        #expect(noToken.out.contains("status: 200 → 401"), "\(noToken.out)")
        #expect(noToken.out.contains("carries a redacted `authorization`"), "\(noToken.out)")

        // With --bearer: the same answer, but for `at` (a time) — the ignore rule counts it,
        // and the headers not compared are named (Date, X-Request-Id from the default list).
        let same = try await devmesh(["replay", String(items.id), "--bearer", Self.token, "--ignore", "$.at"], in: stack.root)
        #expect(same.code == 0, "\(same.out)\(same.err)")
        #expect(same.out.contains("identical"), "\(same.out)")
        #expect(same.out.contains("ignore $.at: suppressed 1 difference"), "\(same.out)")
        #expect(same.out.contains("not compared") && same.out.contains("date") && same.out.contains("x-request-id"), "\(same.out)")
        #expect(!same.out.contains(Self.token), "a replay's output never shows a secret")
        // The replay joined the recording's trace: a `devmesh-replay` span with the replayed hops under it.
        var family = ""
        let until = ContinuousClock.now + .seconds(10)
        repeat {
            family = try await devmesh(["trace", items.traceID], in: stack.root).out
            if family.contains("devmesh-replay replay #\(items.id)") { break }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < until
        #expect(family.contains("devmesh-replay replay #\(items.id) GET"), "\(family)")

        // Without the ignore rule, `at` is the one difference, with its path.
        let unignored = try await devmesh(["replay", String(items.id), "--bearer", Self.token], in: stack.root)
        #expect(unignored.code == 1)
        #expect(unignored.out.contains("$.at: "), "\(unignored.out)")

        // A changed field shows with its JSON path.
        try "12\n".write(toFile: stack.root + "/price.txt", atomically: true, encoding: .utf8)
        let changed = try await devmesh(["replay", String(items.id), "--bearer", Self.token, "--ignore", "$.at", "--json"], in: stack.root)
        #expect(changed.code == 1)
        #expect(changed.out.contains("$.items[0].price: 10 → 12"), "\(changed.out)")
        try "10\n".write(toFile: stack.root + "/price.txt", atomically: true, encoding: .utf8)

        // The truncated body is compared only as far as it was recorded, and says so.
        let bigReplay = try await devmesh(["replay", String(bigRecording.id)], in: stack.root)
        #expect(bigReplay.code == 0, "\(bigReplay.out)\(bigReplay.err)")
        #expect(bigReplay.out.contains("truncated (65536 of 2097152 bytes kept): only the first 65536 bytes are compared"), "\(bigReplay.out)")

        // A suite: saved from recordings (redacted), passing with replay.auth from the environment.
        let suitePath = stack.root + "/smoke.yaml"
        let saved = try await devmesh(["replay", String(items.id), String(loginID), "--save", suitePath], in: stack.root)
        #expect(saved.code == 0, "\(saved.err)")
        var suite = try String(contentsOfFile: suitePath, encoding: .utf8)
        #expect(!suite.contains(Self.token) && !suite.contains(Self.password) && suite.contains("[redacted:"), "\(suite)")
        suite = suite.replacingOccurrences(of: "cases:", with: "ignore: [\"$.at\", \"$.session\"]\ncases:")
        try suite.write(toFile: suitePath, atomically: true, encoding: .utf8)
        let passes = try await devmesh(["replay", "--suite", suitePath], in: stack.root, env: ["SHOP_TOKEN": Self.token])
        #expect(passes.code == 0, "\(passes.out)\(passes.err)")
        #expect(passes.out.contains("2 replayed: 2 identical, 0 different"), "\(passes.out)")
        try "11\n".write(toFile: stack.root + "/price.txt", atomically: true, encoding: .utf8)
        let fails = try await devmesh(["replay", "--suite", suitePath], in: stack.root, env: ["SHOP_TOKEN": Self.token])
        #expect(fails.code == 1, "\(fails.out)")
        #expect(fails.out.contains("$.items[0].price: 10 → 11"), "\(fails.out)")
        try "10\n".write(toFile: stack.root + "/price.txt", atomically: true, encoding: .utf8)

        // HAR: out and back in, replayed as recorded.
        let harPath = stack.root + "/out.har"
        let exported = try await devmesh(["requests", String(items.id), "--har", harPath], in: stack.root)
        #expect(exported.code == 0, "\(exported.err)")
        let har = try String(contentsOfFile: harPath, encoding: .utf8)
        #expect(har.contains("\"version\" : \"1.2\"") && !har.contains(Self.token), "\(har.prefix(400))")
        let fromHAR = try await devmesh(["replay", "--har", harPath, "--ignore", "$.at", "--times", "3", "--concurrency", "2"], in: stack.root,
                                  env: ["SHOP_TOKEN": Self.token])
        #expect(fromHAR.code == 0, "\(fromHAR.out)\(fromHAR.err)")
        #expect(fromHAR.out.contains("3 runs, 3 identical"), "\(fromHAR.out)")

        // The API: list, detail, and Replay with replay.auth (the `up` process has SHOP_TOKEN).
        let admin = try #require(stack.state?.ports.admin)
        let token = try #require(stack.state?.token)
        let listed = try await GatewayTests.curl(["http://127.0.0.1:\(admin)/api/v1/requests?service=devmesh-gateway&path=/items"])
        #expect(listed.status == "200" && listed.body.contains("\"requests\""), "\(listed.body.prefix(300))")
        let replayed = try await GatewayTests.curl(["-X", "POST", "-H", "X-Devmesh-Token: \(token)", "-H", "Content-Type: application/json",
                                              "-d", "{}", "http://127.0.0.1:\(admin)/api/v1/requests/\(items.id)/replay"])
        #expect(replayed.status == "200", "\(replayed.body)")
        #expect(replayed.body.contains("\"path\":\"$.at\""), "only `at` differs: \(replayed.body.prefix(600))")
        #expect(!replayed.body.contains("\"path\":\"$.items"), "\(replayed.body.prefix(600))")
        #expect(!replayed.body.contains(Self.token))
        let refused = try await GatewayTests.curl(["-X", "POST", "-d", "{}", "http://127.0.0.1:\(admin)/api/v1/requests/\(items.id)/replay"])
        #expect(refused.status == "403", "Replay changes things: it needs the token")

        // Still nothing secret in the database after all the replays.
        #expect(try secretsInDatabase().isEmpty)
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}
