import DevMeshCore
import DevMeshSupervisor
import DevMeshTesting
import DevMeshTLS
import Foundation
import Glibc
import Testing
import X509

/// Ambassadors for externals through a real `devmesh up`, against a stand-in external: an HTTPS
/// server on 127.0.0.1 with a CA of its own (not the devmesh CA, not the system's), run by the test.
@Suite(.serialized, .timeLimit(.minutes(4))) struct ExternalTests {
    static let token = "pay-Token-5b1e77c2"

    /// The stand-in: echoes what it got (path, Authorization, traceparent); `/fail` answers 503;
    /// `/_hits` counts requests per path. Its TLS certificate chains to the test's own CA.
    static let standIn = """
        import json, ssl, sys, collections, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        hits = collections.Counter(); lock = threading.Lock()
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def answer(self):
                path = self.path.split("?")[0]
                if path == "/_hits":
                    with lock: body = json.dumps(dict(hits)).encode()
                    status = 200
                else:
                    with lock: hits[self.command + " " + path] += 1
                    n = int(self.headers.get("content-length") or 0)
                    data = self.rfile.read(n).decode() if n else ""
                    if path.endswith("/stall"):
                        # A head, a few bytes, then nothing: the ambassador's timeout must cover the body.
                        self.send_response(200); self.send_header("Content-Length", "100"); self.end_headers()
                        self.wfile.write(b"0123456789"); self.wfile.flush()
                        import time; time.sleep(20); return
                    status = 503 if path.endswith("/fail") else 200
                    body = json.dumps({"path": self.path, "method": self.command, "body": data,
                                       "auth": self.headers.get("authorization"), "traceparent": self.headers.get("traceparent"),
                                       "forwarded": self.headers.get("x-forwarded-client-cert")}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers(); self.wfile.write(body)
            do_GET = answer; do_POST = answer; do_PUT = answer
            def log_message(self, *a): pass
        server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain("standin/server.pem", "standin/server.key")
        server.socket = context.wrap_socket(server.socket, server_side=True)
        print("ready", flush=True)
        server.serve_forever()
        """

    /// The app: answers `/env` with the names and values of its environment (the token must not be there).
    static let app = """
        import os, json
        from http.server import BaseHTTPRequestHandler, HTTPServer
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps(dict(os.environ)).encode()
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    /// A CA of the stand-in's own and its server certificate, as PEM files in `standin/`.
    static func standInCertificates(root: String) throws {
        let ca = try CertificateAuthority.loadOrCreate(directory: root + "/standin-ca")
        let leaf = try ca.issueServer(hosts: ["localhost", "127.0.0.1"])
        try FileManager.default.createDirectory(atPath: root + "/standin", withIntermediateDirectories: true)
        let chain = try leaf.chain.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n"
        try chain.write(toFile: root + "/standin/server.pem", atomically: true, encoding: .utf8)
        try leaf.privateKey.pemRepresentation.write(toFile: root + "/standin/server.key", atomically: true, encoding: .utf8)
        try ca.certificatePEM.write(toFile: root + "/standin/ca.pem", atomically: true, encoding: .utf8)
    }

    /// Runs the stand-in until `stop()`.
    final class StandIn: Sendable {
        let process: Process
        let port: Int
        let root: String

        init(root: String) async throws {
            self.root = root
            port = try PortAllocator.freePort()
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-u", "standin.py", String(port)]
            process.currentDirectoryURL = URL(fileURLWithPath: root)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline, try await hits() == nil {
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        /// Requests per `METHOD /path`; nil while it does not answer.
        func hits() async throws -> [String: Int]? {
            let r = try await GatewayTests.tool("/usr/bin/curl", ["-sS", "--max-time", "5", "--cacert", root + "/standin/ca.pem",
                                                                  "https://localhost:\(port)/_hits"])
            guard r.code == 0 else { return nil }
            return try? JSONDecoder().decode([String: Int].self, from: Data(r.out.utf8))
        }

        /// Stops it and waits until it is gone (polling: `waitUntilExit` spins a run
        /// loop, which must not happen on the cooperative pool).
        func stop() async {
            kill()
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        }

        /// SIGKILL: Foundation's `Process` starts children with the spawning thread's signal
        /// mask, in which SIGTERM is blocked on the test runner's threads.
        func kill() {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        }
    }

    /// A plain HTTP call through an egress listener: status, lower-cased header lines, body.
    static func call(_ url: String, _ args: [String] = []) async throws -> (status: String, fields: [String], body: String) {
        let r = try await GatewayTests.tool("/usr/bin/curl", ["-sS", "--max-time", "20", "-D", "-"] + args + [url])
        let parts = r.out.components(separatedBy: "\r\n\r\n")
        let head = parts.first?.components(separatedBy: "\r\n") ?? []
        let status = head.first?.split(separator: " ").dropFirst().first.map(String.init) ?? "000"
        return (status, head.map { $0.lowercased() }, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    static func json(_ body: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    /// `devmesh trace ID --json` once it shows `needle`: the store writes spans a moment after the
    /// answer, and the CLI reads what is committed (at most 10 s).
    func trace(_ traceID: String, once needle: String, in root: String) async throws -> String {
        var spans = ""
        let until = ContinuousClock.now + .seconds(10)
        repeat {
            spans = try await devmesh(["trace", traceID, "--json"], in: root).out
            if spans.contains(needle) { break }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < until
        return spans
    }

    func devmesh(_ args: [String], in root: String) async throws -> (code: Int32, out: String, err: String) {
        let r = try await DevMeshBinary.runDetached(args, in: root)
        return (r.code, r.stdout, r.stderr)
    }

    @Test func injectsRetriesBreaksRecordsAndReplaysOffline() async throws {
        let stack = try TempStack([
            "standin.py": Self.standIn,
            "app.py": Self.app,
            "Procfile": "app: python3 -u app.py\n",
        ])
        try Self.standInCertificates(root: stack.root)
        let standIn = try await StandIn(root: stack.root)
        defer { standIn.kill() }
        #expect(try await standIn.hits() == [:], "the stand-in answers")
        try """
            services:
              app: {health: {tcp: true}, upstreams: [payments, untrusted], egress_proxy: true}
            external:
              payments:
                url: https://localhost:\(standIn.port)/v1
                ca: standin/ca.pem
                headers: {Authorization: "Bearer ${PAY_TOKEN}"}
                timeout: 3s
                retries: 2
                circuit_breaker: {failures: 3, open_for: 1s}
                mode: record
              untrusted:
                url: https://localhost:\(standIn.port)
                retries: 2

            """.write(toFile: stack.root + "/devmesh.yaml", atomically: true, encoding: .utf8)
        let up = try RunningUp(in: stack.root, environment: ["PAY_TOKEN": Self.token])
        #expect(await up.waitFor("all 1 service is ready"))
        let state = try #require(stack.state)
        let egress = try #require(state.ports.egress["app->payments"])
        let payments = "http://127.0.0.1:\(egress)"

        // The app gets PAYMENTS_URL, never the token; the external gets the token, the app's path
        // under the url's path, and a traceparent.
        let appPort = try #require(state.ports.services["app"])
        let env = Self.json(try await Self.call("http://127.0.0.1:\(appPort)/env").body)
        #expect(env["PAYMENTS_URL"] as? String == payments)
        #expect(!env.values.contains { ($0 as? String)?.contains(Self.token) == true }, "the app never holds the token")
        let first = try await Self.call(payments + "/charges?id=7")
        #expect(first.status == "200", "\(first)")
        let echoed = Self.json(first.body)
        // The stand-in echoes the credential it got: the whole injected value, which the ambassador
        // replaces before the app sees the answer.
        #expect(echoed["auth"] as? String == "[devmesh: injected credential]", "\(first.body)")
        #expect(echoed["path"] as? String == "/v1/charges?id=7")
        #expect(echoed["forwarded"] is NSNull, "the mesh's own fields stay inside")
        let traceparent = try #require(echoed["traceparent"] as? String)

        // The client span of the call names the external's host, under the caller's trace.
        let traceID = String(traceparent.split(separator: "-")[1])
        let spans = try await trace(traceID, once: "\"server.address\"", in: stack.root)
        #expect(spans.contains("\"server.address\" : \"localhost\"") || spans.contains("\"server.address\":\"localhost\""), "\(spans.prefix(2000))")
        #expect(spans.contains("external-payments"))

        // Verification against the system's roots fails for the stand-in's own CA: a clear 502
        // naming the host, and no retry (it would fail the same way).
        let untrusted = try await Self.call("http://127.0.0.1:\(try #require(state.ports.egress["app->untrusted"]))/x")
        #expect(untrusted.status == "502")
        #expect(untrusted.fields.contains("x-devmesh-error: tls-verification-failed"), "\(untrusted.fields)")
        #expect(untrusted.body.contains("TLS verification of localhost:\(standIn.port) failed") && untrusted.body.contains("`ca:`"), "\(untrusted.body)")

        // Retries: an idempotent call that keeps getting 503 is tried 1 + 2 times; a POST once.
        let failing = try await Self.call(payments + "/fail")
        #expect(failing.status == "503")
        let posted = try await Self.call(payments + "/fail", ["-X", "POST", "-d", "{}"])
        #expect(posted.status == "503")
        var hits = try #require(try await standIn.hits())
        #expect(hits["GET /v1/fail"] == 3, "\(hits)")
        #expect(hits["POST /v1/fail"] == 1, "\(hits)")

        // The third failed call in a row opens the breaker: calls are refused without reaching
        // the external, until one probe goes through after `open_for`.
        _ = try await Self.call(payments + "/fail")
        let refused = try await Self.call(payments + "/charges?id=7")
        #expect(refused.status == "503")
        #expect(refused.fields.contains("x-devmesh-error: circuit-open"), "\(refused.fields)")
        #expect(refused.fields.contains { $0.hasPrefix("retry-after: ") })
        hits = try #require(try await standIn.hits())
        #expect(hits["GET /v1/charges"] == 1, "an open breaker sends nothing: \(hits)")
        var probe = refused
        let reopen = ContinuousClock.now + .seconds(10)
        while probe.status != "200", ContinuousClock.now < reopen {
            try await Task.sleep(for: .milliseconds(100))
            probe = try await Self.call(payments + "/charges?id=7")
        }
        #expect(probe.status == "200", "a probe after open_for closes the breaker again")
        let listed = try await devmesh(["external"], in: stack.root)
        #expect(listed.out.contains("payments") && listed.out.contains("record") && listed.out.contains("closed"), "\(listed.out)")

        // record → replay: the stand-in stops; the recorded answer comes back identical.
        let recorded = try await devmesh(["requests", "--json", "--service", "external-payments"], in: stack.root)
        #expect(recorded.out.contains("/charges?id=7"), "\(recorded.out.prefix(600))")
        let switched = try await devmesh(["external", "mode", "payments", "replay"], in: stack.root)
        #expect(switched.code == 0 && switched.out.contains("mode replay"), "\(switched.out)\(switched.err)")
        await standIn.stop()
        let replayed = try await Self.call(payments + "/charges?id=7")
        #expect(replayed.status == "200")
        #expect(replayed.fields.contains { $0.hasPrefix("x-devmesh-replayed: ") }, "\(replayed.fields)")
        // The newest recording of the call answers: the probe's.
        let expected = Self.json(probe.body)
        let got = Self.json(replayed.body)
        #expect(NSDictionary(dictionary: got).isEqual(to: expected), "\(got) vs \(expected)")

        // A call no recording matches: 502 with the closest recordings and how they differ.
        let miss = try await Self.call(payments + "/charges?id=8")
        #expect(miss.status == "502")
        #expect(miss.fields.contains("x-devmesh-error: no recording matches"), "\(miss.fields)")
        #expect(miss.body.contains("closest recordings") && miss.body.contains("/charges?id=7") && miss.body.contains("query id=7"), "\(miss.body)")

        // Through the egress proxy: the external by name is reached; an undeclared host is not.
        let proxy = "http://127.0.0.1:\(try #require(state.ports.egress["app->*"]))"
        let byName = try await Self.call("http://payments/charges?id=7", ["-x", proxy])
        #expect(byName.status == "200" && byName.fields.contains { $0.hasPrefix("x-devmesh-replayed: ") }, "\(byName)")
        let undeclared = try await Self.call("http://api.undeclared.example/x", ["-x", proxy])
        #expect(undeclared.status == "403")
        #expect(undeclared.fields.contains("x-devmesh-error: undeclared-external"))
        #expect(undeclared.body.contains("not a declared external") || undeclared.body.contains("nor a declared external"), "\(undeclared.body)")

        // The token is nowhere: not in the database (spans, logs, recordings — read once the stack
        // stopped and its writer flushed), not in devmesh's output.
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: stack.root + "/.devmesh").filter { $0.hasPrefix("devmesh.db") }
        #expect(!files.isEmpty)
        for file in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: stack.root + "/.devmesh/" + file))
            #expect(data.range(of: Data(Self.token.utf8)) == nil, "the token is in \(file)")
        }
        #expect(!up.output.contains { $0.contains(Self.token) })
    }

    @Test func aPolicyDecidesWhoMayCallAnExternal() async throws {
        let stack = try TempStack([
            "standin.py": Self.standIn,
            "app.py": Self.app,
            "Procfile": "orders: python3 -u app.py\nreviews: python3 -u app.py\n",
            "policies/payments.yaml": """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: payments-callers, namespace: istio-system}
                spec:
                  selector: {matchLabels: {app: external-payments}}
                  action: ALLOW
                  rules:
                    - from: [{source: {principals: [cluster.local/ns/default/sa/orders]}}]

                """,
        ])
        try Self.standInCertificates(root: stack.root)
        let standIn = try await StandIn(root: stack.root)
        defer { standIn.kill() }
        try """
            services:
              orders: {health: {tcp: true}, upstreams: [payments], egress_proxy: true}
              reviews: {health: {tcp: true}, upstreams: [payments], egress_proxy: true}
            external:
              payments: {url: "https://127.0.0.1:\(standIn.port)", ca: standin/ca.pem}
            policies: [policies/]

            """.write(toFile: stack.root + "/devmesh.yaml", atomically: true, encoding: .utf8)
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 2 services are ready"))
        let state = try #require(stack.state)
        let allowed = try await Self.call("http://127.0.0.1:\(try #require(state.ports.egress["orders->payments"]))/pay")
        #expect(allowed.status == "200", "\(allowed)")
        let denied = try await Self.call("http://127.0.0.1:\(try #require(state.ports.egress["reviews->payments"]))/pay")
        #expect(denied.status == "403", "\(denied)")

        // CONNECT through the egress proxy (what an SDK with HTTPS_PROXY does): a tunnel to the
        // declared external, TLS end to end (curl verifies the stand-in against its own CA), for
        // the callers the policy lets through — the policy's TCP-level rules decide.
        func connect(_ caller: String, _ url: String) async throws -> (connect: String, status: String) {
            let proxy = "http://127.0.0.1:\(try #require(state.ports.egress["\(caller)->*"]))"
            let r = try await GatewayTests.tool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_connect} %{http_code}", "--max-time", "20",
                                                                  "-x", proxy, "--cacert", stack.root + "/standin/ca.pem", url])
            let parts = r.out.split(separator: " ").map(String.init)
            return (parts.first ?? "", parts.dropFirst().first ?? "")
        }
        let tunneled = try await connect("orders", "https://127.0.0.1:\(standIn.port)/tunneled")
        #expect(tunneled.connect == "200" && tunneled.status == "200", "\(tunneled)")
        let refusedByPolicy = try await connect("reviews", "https://127.0.0.1:\(standIn.port)/tunneled")
        #expect(refusedByPolicy.connect == "403", "\(refusedByPolicy)")
        let otherPort = try await connect("orders", "https://127.0.0.1:1/tunneled")
        #expect(otherPort.connect == "403", "only the external's own host:port: \(otherPort)")
        let undeclared = try await connect("orders", "https://api.undeclared.example/x")
        #expect(undeclared.connect == "403", "\(undeclared)")
        // In replay mode the real external must not be called: no tunnel either.
        let switched = try await devmesh(["external", "mode", "payments", "replay"], in: stack.root)
        #expect(switched.code == 0, "\(switched)")
        let inReplay = try await connect("orders", "https://127.0.0.1:\(standIn.port)/tunneled")
        #expect(inReplay.connect == "503", "\(inReplay)")
        let tunnelSpans = try await devmesh(["traces", "--service", "external-payments", "--json"], in: stack.root).out
        #expect(tunnelSpans.contains("CONNECT"), "the tunnel has its spans: \(tunnelSpans.prefix(1500))")

        let hits = try #require(try await standIn.hits())
        #expect(hits["GET /pay"] == 1, "the denied call never left: \(hits)")
        #expect(hits["GET /tunneled"] == 1, "only the allowed tunnel reached the external: \(hits)")
        // The same verdicts from `policy test`, before anything runs.
        let explained = try await devmesh(["policy", "explain", "--to", "external-payments", "--from", "reviews", "--method", "GET", "--path", "/pay"],
                                          in: stack.root)
        #expect(explained.out.lowercased().contains("deny"), "\(explained.out)\(explained.err)")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}

extension ExternalTests {
    /// HTTP/2 when the external offers it by ALPN, over one pooled connection; the span says so.
    @Test func speaksHTTP2ByALPNOverOnePooledConnection() async throws {
        let stack = try TempStack(["app.py": Self.app, "Procfile": "app: python3 -u app.py\n"])
        let ca = try CertificateAuthority.loadOrCreate(directory: stack.root + "/standin-ca")
        try ca.certificatePEM.write(toFile: stack.root + "/standin-ca.pem", atomically: true, encoding: .utf8)
        let standIn = try await HTTP2StandIn(certificate: try ca.issueServer(hosts: ["localhost"]))
        try """
            services:
              app: {health: {tcp: true}, upstreams: [fast]}
            external:
              fast: {url: "https://localhost:\(standIn.port)/api", ca: standin-ca.pem, headers: {Authorization: "Key ${FAST_KEY}"}}
            gateway:
              routes:
                - {path: /fast, to: fast, strip_prefix: true}

            """.write(toFile: stack.root + "/devmesh.yaml", atomically: true, encoding: .utf8)
        let up = try RunningUp(in: stack.root, environment: ["FAST_KEY": "k-123456"])
        #expect(await up.waitFor("all 1 service is ready"))
        let egress = try #require(stack.state?.ports.egress["app->fast"])
        for i in 1...5 {
            let answer = try await Self.call("http://127.0.0.1:\(egress)/items/\(i)")
            #expect(answer.status == "200", "\(answer)")
            let body = Self.json(answer.body)
            #expect(body["protocol"] as? String == "2", "\(answer.body)")
            #expect(body["auth"] as? String == "[devmesh: injected credential]" && body["path"] as? String == "/api/items/\(i)", "\(answer.body)")
        }
        // A gateway route may go to the external too (through its ambassador).
        let https = try #require(stack.state?.ports.gateway?["https"])
        let edge = try await GatewayTests.curl(["https://localhost:\(https)/fast/items/9"])
        #expect(edge.status == "200" && edge.body.contains("/api/items/9") && edge.body.contains(#""protocol": "2""#), "\(edge)")
        #expect(standIn.requests == 6)
        #expect(standIn.connections == 1, "five calls, one pooled HTTP/2 connection: \(standIn.connections)")
        // Spans land on the writer thread just after the answers: asked until there.
        var found = ""
        let until = ContinuousClock.now + .seconds(10)
        repeat {
            found = try await devmesh(["traces", "--attr", "network.protocol.version=2", "--json"], in: stack.root).out
            if found.contains("external-fast") { break }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < until
        #expect(found.contains("external-fast"), "\(found.prefix(800))")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
        await standIn.stop()
    }

    /// An external that sends its head and then stalls is cut off by `timeout` (head and body),
    /// retried, and answered 504 — it cannot hold a call (or a half-open breaker) for good.
    @Test func aStalledAnswerTimesOutAndIsRetried() async throws {
        let stack = try TempStack(["standin.py": Self.standIn, "app.py": Self.app, "Procfile": "app: python3 -u app.py\n"])
        try Self.standInCertificates(root: stack.root)
        let standIn = try await StandIn(root: stack.root)
        defer { standIn.kill() }
        let closedPort = try PortAllocator.freePorts(1, excluding: [])[0]  // nothing listens there
        try """
            services:
              app: {health: {tcp: true}, upstreams: [slow, closed]}
            external:
              slow: {url: "https://localhost:\(standIn.port)", ca: standin/ca.pem, timeout: 500ms, retries: 1}
              closed: {url: "https://127.0.0.1:\(closedPort)", retries: 2}

            """.write(toFile: stack.root + "/devmesh.yaml", atomically: true, encoding: .utf8)
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 1 service is ready"))
        let egress = try #require(stack.state?.ports.egress["app->slow"])
        let started = ContinuousClock.now
        let stalled = try await Self.call("http://127.0.0.1:\(egress)/stall")
        let took = ContinuousClock.now - started
        #expect(stalled.status == "504", "\(stalled)")
        #expect(stalled.fields.contains("x-devmesh-error: external-timeout"), "\(stalled.fields)")
        #expect(stalled.body.contains("did not answer within 500ms"), "\(stalled.body)")
        #expect(took < .seconds(5), "two attempts of 500 ms and a back-off, not the stall's 20 s: \(took)")
        #expect(try await standIn.hits()?["GET /stall"] == 2, "tried again once (retries: 1)")

        // A refused connection sent nothing: even a POST is tried again (1 + retries: 2 times),
        // as the span's resend count says.
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        let closedEgress = try #require(stack.state?.ports.egress["app->closed"])
        let refused = try await Self.call("http://127.0.0.1:\(closedEgress)/pay",
                                          ["-X", "POST", "-d", "{}", "-H", "traceparent: 00-\(traceID)-00f067aa0ba902b7-01"])
        #expect(refused.status == "502" && refused.fields.contains("x-devmesh-error: external-refused"), "\(refused)")
        let spans = try await trace(traceID, once: "resend_count", in: stack.root)
        #expect(spans.contains("\"http.request.resend_count\" : \"2\"") || spans.contains("\"http.request.resend_count\":\"2\""),
                "\(spans.prefix(3000))")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}
