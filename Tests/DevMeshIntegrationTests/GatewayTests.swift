import DevMeshCore
import DevMeshTesting
import Foundation
import Testing

/// The HTTPS edge of a real `devmesh up`, checked with real clients: curl (HTTP/2 and HTTP/1.1)
/// and `openssl s_client` (protocol versions and cipher suites).
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayTests {
    static let headersApp = """
        import os
        from http.server import BaseHTTPRequestHandler, HTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                body = ("%s %s\\n" % (os.environ["DEVMESH_SERVICE"], self.path)).encode()
                body += "".join("%s: %s\\n" % (k.lower(), v) for k, v in self.headers.items()).encode()
                self.send_response(200); self.send_header("Content-Length", str(len(body)))
                self.send_header("Server", "app"); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    struct Run {
        var code: Int32
        var out: String
        var err: String
    }

    /// Runs a program to its end on a Dispatch thread: waiting for it must not hold one of the few
    /// threads of Swift's cooperative pool (suites run side by side, and starve each other otherwise).
    static func tool(_ path: String, _ args: [String], stdin: String = "") async throws -> Run {
        try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async {
                do {
                    c.resume(returning: try toolBlocking(path, args, stdin: stdin))
                } catch {
                    c.resume(throwing: error)
                }
            }
        }
    }

    private static func toolBlocking(_ path: String, _ args: [String], stdin: String) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(code: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    /// curl with the devmesh CA; `-w` appends the status and HTTP version on a last line.
    /// `devmesh up` in the stack, once all its services are ready: the process, and the gateway's HTTPS port.
    static func up(_ stack: TempStack, services: Int) async throws -> (RunningUp, Int) {
        let up = try RunningUp(in: stack.root)
        let ready = services == 1 ? "all 1 service is ready" : "all \(services) services are ready"
        #expect(await up.waitFor(ready))
        return (up, try #require(stack.state?.ports.gateway?["https"]))
    }

    /// The status and the answer's header lines (lower-cased) of a curl call, the body discarded.
    static func fields(_ args: [String], _ url: String) async throws -> (status: String, fields: [String]) {
        let r = try await curl(["-D", "-", "-o", "/dev/null"] + args + [url])
        return (r.status, r.body.components(separatedBy: "\r\n").map { $0.lowercased() })
    }

    static func curl(_ args: [String]) async throws -> (status: String, version: String, body: String) {
        let r = try await tool("/usr/bin/curl", ["-sS", "--max-time", "10", "--cacert", TestHome.path + "/ca/ca.pem",
                                           "-w", "\n%{http_code} %{http_version}"] + args)
        var lines = r.out.components(separatedBy: "\n")
        // No answer at all: what curl says goes to the log, for a failure to be explainable.
        if r.out.hasSuffix("\n000 0") { print("curl \(args.suffix(1)): \(r.err)") }
        let last = lines.removeLast().split(separator: " ")
        return (String(last.first ?? ""), String(last.dropFirst().first ?? ""), lines.joined(separator: "\n"))
    }

    @Test func httpsHTTP2AndHTTP1RoutesAndTLSPolicy() async throws {
        let stack = try TempStack([
            "app.py": Self.headersApp,
            "Procfile": "users: python3 -u app.py\nfrontend: python3 -u app.py\n",
            "devmesh.yaml": """
                services:
                  users: {health: {tcp: true}}
                  frontend: {health: {tcp: true}}
                gateway:
                  routes:
                    - {path: /api/users, to: users, strip_prefix: true, headers: {add: {X-Env: dev}, remove: [X-Debug]}, response_headers: {remove: [Server]}}
                    - {path: /, to: frontend}

                """,
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 2 services are ready"))
        let ports = try #require(stack.state?.ports.gateway)
        let https = try #require(ports["https"]), http = try #require(ports["http"])

        // HTTP/2 to an automatic host: no route needed.
        let h2 = try await Self.curl(["--http2", "https://users.localhost:\(https)/direct?q=1"])
        #expect(h2.status == "200")
        #expect(h2.version == "2")
        #expect(h2.body.hasPrefix("users /direct?q=1"))
        #expect(h2.body.contains("x-forwarded-proto: https"))
        #expect(h2.body.contains("x-forwarded-client-cert: By=spiffe://cluster.local/ns/default/sa/users;URI=spiffe://cluster.local/ns/istio-system/sa/devmesh-gateway"))

        // HTTP/1.1 through a path route with strip_prefix and header edits; client forwarding fields are not trusted.
        let h1 = try await Self.curl(["--http1.1", "-H", "X-Debug: 1", "-H", "X-Forwarded-For: 6.6.6.6", "-D", "-",
                                "https://localhost:\(https)/api/users/42"])
        #expect(h1.status == "200")
        #expect(h1.version == "1.1")
        #expect(h1.body.contains("users /42"))
        #expect(h1.body.contains("x-env: dev"))
        #expect(!h1.body.contains("x-debug"))
        #expect(!h1.body.contains("6.6.6.6"))
        #expect(!h1.body.lowercased().contains("server: app"))

        // Longest prefix: everything else goes to the frontend; plain HTTP serves the same routes.
        let plain = try await Self.curl(["http://127.0.0.1:\(http)/api/usersx"])
        #expect(plain.status == "200")
        #expect(plain.body.hasPrefix("frontend /api/usersx"))
        #expect(plain.body.contains("x-forwarded-proto: http\n"))

        // Hosts the gateway does not serve.
        let unknown = try await Self.curl(["-H", "Host: evil.example", "http://127.0.0.1:\(http)/"])
        #expect(unknown.status == "421")

        // TLS policy: TLS 1.1 and CBC suites are refused; TLS 1.2 with AEAD works.
        let openssl = "/usr/bin/openssl"
        let base = ["s_client", "-connect", "127.0.0.1:\(https)", "-servername", "localhost"]
        let tls11 = try await Self.tool(openssl, base + ["-tls1_1"])
        #expect(!tls11.out.contains("BEGIN CERTIFICATE") && !tls11.out.contains("Cipher is ECDHE"))
        let cbc = try await Self.tool(openssl, base + ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA"])
        #expect(!cbc.out.contains("Cipher is ECDHE"))
        let good = try await Self.tool(openssl, base + ["-tls1_2", "-CAfile", TestHome.path + "/ca/ca.pem"])
        #expect(good.out.contains("Cipher is ECDHE-ECDSA-AES"))
        #expect(good.out.contains("Verify return code: 0 (ok)"))

        // The gateway's span is the root; the inbound sidecar saw the gateway's identity.
        let spans = try await MeshTraceTests.spans(stack.root) { spans in
            spans.filter { $0.attributes["devmesh.listener"] == "gateway" }.count >= 4
                && spans.contains { $0.attributes["devmesh.source.principal"] == "cluster.local/ns/istio-system/sa/devmesh-gateway" }
        }
        let gatewaySpans = spans.filter { $0.attributes["devmesh.listener"] == "gateway" }
        #expect(gatewaySpans.count >= 4)
        let inbound = spans.filter { $0.attributes["devmesh.listener"] == "inbound" }
        #expect(inbound.contains { $0.attributes["devmesh.source.principal"] == "cluster.local/ns/istio-system/sa/devmesh-gateway" })
        if let root = gatewaySpans.first(where: { $0.attributes["url.path"] == "/api/users/42" }) {
            #expect(root.parentSpanID == nil)
            #expect(inbound.contains { $0.traceID == root.traceID && $0.parentSpanID == root.spanID })
        } else {
            Issue.record("no gateway span for /api/users/42")
        }

        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }

    @Test func strictModeClosesServiceListenersAndRedirectsPlainHTTP() async throws {
        let stack = try TempStack([
            "app.py": Self.headersApp,
            "Procfile": "users: python3 -u app.py\n",
            "devmesh.yaml": """
                mtls: strict
                services:
                  users: {health: {tcp: true}}
                gateway:
                  http_mode: redirect

                """,
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 1 service is ready"))
        let state = try #require(stack.state)
        #expect(state.ports.services.isEmpty)
        let ports = try #require(state.ports.gateway)
        let https = try #require(ports["https"]), http = try #require(ports["http"])
        let redirect = try await Self.curl(["-D", "-", "-H", "Host: users.localhost", "http://127.0.0.1:\(http)/a?b=1"])
        #expect(redirect.status == "308")
        #expect(redirect.body.contains("Location: https://users.localhost:\(https)/a?b=1"))
        let ok = try await Self.curl(["https://users.localhost:\(https)/a"])
        #expect(ok.status == "200")
        // The inbound sidecar refuses plaintext in strict mode: the app never sees it.
        let inbound = try #require(state.ports.inbound["users.1"])
        let plain = try await Self.curl(["http://127.0.0.1:\(inbound)/sneaky"])
        #expect(plain.status != "200")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}

/// A big answer to an HTTP/2 client ends while the client's stream window is full: reading of the
/// upstream connection was paused for that client, and the pooled connection must read again for
/// the next request (it used to hang until the request timeout).
@Suite(.serialized, .timeLimit(.minutes(2))) struct PooledConnectionAfterBackPressureTests {
    static let app = """
        import os
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                body = b"x" * (4 * 1024 * 1024) if self.path.startswith("/big") else b"small"
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    @Test func theNextRequestOnThePooledConnectionIsAnswered() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "app: python3 -u app.py\n",
            "devmesh.yaml": "services:\n  app: {health: {tcp: true}}\ngateway:\n  routes: [{path: /, to: app}]\n",
        ])
        let (up, https) = try await GatewayTests.up(stack, services: 1)
        for round in 0..<3 {
            let big = try await GatewayTests.curl(["--http2", "-o", "/dev/null", "https://localhost:\(https)/big?r=\(round)"])
            #expect(big.status == "200" && big.version == "2", "\(big)")
            // New connections land on either event loop: each must be answered promptly.
            for n in 0..<4 {
                let small = try await GatewayTests.curl(["--http2", "--max-time", "3", "https://localhost:\(https)/small?r=\(round)&n=\(n)"])
                #expect(small.status == "200" && small.body == "small", "round \(round), request \(n): \(small)")
            }
        }
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}

/// CORS at the gateway over TLS: preflights answered (or refused) by the gateway and never
/// forwarded; the allowed origin's answers carry the fields (the upstream's own replaced, its
/// `Vary` kept); other origins get none.
@Suite(.serialized, .timeLimit(.minutes(2))) struct GatewayCORSTests {
    static let app = """
        import os
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def answer(self):
                print("GOT %s %s" % (self.command, self.path), flush=True)
                self.send_response(200); self.send_header("Content-Length", "2")
                self.send_header("Access-Control-Allow-Origin", "*"); self.send_header("Vary", "Accept-Encoding")
                self.end_headers(); self.wfile.write(b"ok")
            do_GET = answer
            do_OPTIONS = answer
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    @Test func preflightsAndAnswers() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "api: python3 -u app.py\n",
            "devmesh.yaml": """
                services:
                  api: {health: {tcp: true}}
                gateway:
                  routes:
                    - path: /api
                      to: api
                      cors: {origins: ["http://localhost:3000"], headers: [content-type], credentials: true, max_age: 5m, expose_headers: [X-Total]}
                    - {path: /limited, to: api, cors: {origins: ["http://localhost:3000"]}, rate_limit: {requests: 1, per: 1m}}
                    - {path: /, to: api}

                """,
        ])
        let (up, https) = try await GatewayTests.up(stack, services: 1)
        func call(_ args: [String], _ path: String) async throws -> (status: String, fields: [String]) {
            try await GatewayTests.fields(args, "https://localhost:\(https)\(path)")
        }
        let preflight = try await call(["-X", "OPTIONS", "-H", "Origin: http://localhost:3000", "-H", "Access-Control-Request-Method: PUT",
                                  "-H", "Access-Control-Request-Headers: Content-Type"], "/api/items?n=pre")
        #expect(preflight.status == "204", "\(preflight)")
        #expect(preflight.fields.contains("access-control-allow-origin: http://localhost:3000"))
        #expect(preflight.fields.contains("access-control-allow-credentials: true"))
        #expect(preflight.fields.contains("access-control-allow-headers: content-type"))
        #expect(preflight.fields.contains("access-control-max-age: 300"))
        let refused = try await call(["-X", "OPTIONS", "-H", "Origin: https://evil.example", "-H", "Access-Control-Request-Method: GET"], "/api/items?n=evil")
        #expect(refused.status == "403")
        #expect(!refused.fields.contains { $0.hasPrefix("access-control-") }, "a disallowed origin gets no CORS field: \(refused.fields)")
        let badHeader = try await call(["-X", "OPTIONS", "-H", "Origin: http://localhost:3000", "-H", "Access-Control-Request-Method: GET",
                                  "-H", "Access-Control-Request-Headers: X-Debug"], "/api/items?n=hdr")
        #expect(badHeader.status == "403")

        let allowed = try await call(["-H", "Origin: http://localhost:3000"], "/api/items?n=get")
        #expect(allowed.status == "200")
        #expect(allowed.fields.filter { $0.hasPrefix("access-control-allow-origin:") } == ["access-control-allow-origin: http://localhost:3000"],
                "the upstream's `*` is replaced: \(allowed.fields)")
        #expect(allowed.fields.contains("access-control-expose-headers: x-total"))
        #expect(allowed.fields.contains("vary: accept-encoding") && allowed.fields.contains("vary: origin"), "\(allowed.fields)")
        let other = try await call(["-H", "Origin: https://evil.example"], "/api/items?n=other")
        #expect(other.status == "200")
        #expect(!other.fields.contains { $0.hasPrefix("access-control-allow-origin: https://evil") })
        #expect(!other.fields.contains { $0.hasPrefix("access-control-allow-origin") }, "not even the upstream's own `*`: \(other.fields)")
        // On a limited route the RateLimit fields are exposed, and devmesh's own 429 carries the CORS fields.
        let first = try await call(["-H", "Origin: http://localhost:3000"], "/limited?n=1")
        #expect(first.status == "200" && first.fields.contains {
            $0.hasPrefix("access-control-expose-headers:") && $0.contains("ratelimit-remaining") && $0.contains("retry-after")
        }, "\(first.fields)")
        let limited = try await call(["-H", "Origin: http://localhost:3000"], "/limited?n=2")
        #expect(limited.status == "429" && limited.fields.contains("access-control-allow-origin: http://localhost:3000"), "\(limited.fields)")
        // A route without `cors` passes the upstream's own fields through untouched.
        let plain = try await call(["-H", "Origin: https://evil.example"], "/other?n=plain")
        #expect(plain.fields.contains("access-control-allow-origin: *"))

        #expect(await up.waitFor("GOT GET /api/items?n=get"))
        #expect(!up.output.contains { $0.contains("n=pre") || $0.contains("n=evil") || $0.contains("n=hdr") }, "preflights never reach the app")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}

/// A route's rate limit through the real gateway over TLS: the allowance, then 429 with
/// `Retry-After` and the `RateLimit-*` fields; other routes and the refused requests' upstream
/// untouched.
@Suite(.serialized, .timeLimit(.minutes(2))) struct GatewayRateLimitTests {
    @Test func overTheLimitIs429WithTheFields() async throws {
        let stack = try TempStack([
            "app.py": GatewayCORSTests.app,
            "Procfile": "api: python3 -u app.py\n",
            "devmesh.yaml": """
                services:
                  api: {health: {tcp: true}}
                gateway:
                  routes:
                    - {path: /limited, to: api, rate_limit: {requests: 3, per: 1m}}
                    - {path: /, to: api}

                """,
        ])
        let (up, https) = try await GatewayTests.up(stack, services: 1)
        func call(_ path: String) async throws -> (status: String, fields: [String]) {
            try await GatewayTests.fields([], "https://localhost:\(https)\(path)")
        }
        for n in 0..<3 {
            let ok = try await call("/limited?n=\(n)")
            #expect(ok.status == "200")
            #expect(ok.fields.contains("ratelimit-limit: 3") && ok.fields.contains("ratelimit-remaining: \(2 - n)"), "\(ok.fields)")
        }
        let over = try await call("/limited?n=over")
        #expect(over.status == "429")
        // One more every 20 s, counted from the first request (seconds may have passed since, on a busy machine).
        let retry = over.fields.first { $0.hasPrefix("retry-after: ") }.flatMap { Int($0.dropFirst("retry-after: ".count)) }
        #expect(retry.map { (10...20).contains($0) } == true, "\(over.fields)")
        #expect(over.fields.contains("ratelimit-remaining: 0") && over.fields.contains("x-devmesh-error: rate-limited"))
        #expect(try await call("/other?n=free").status == "200", "other routes are not limited")
        #expect(await up.waitFor("GOT GET /other?n=free"))
        #expect(!up.output.contains { $0.contains("n=over") }, "a refused request never reaches the app")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}

/// API versions through the real gateway: a header picks the version's service, no header the
/// default one, whose answers say it is deprecated and when it goes.
@Suite(.serialized, .timeLimit(.minutes(2))) struct GatewayVersionTests {
    static let app = """
        import os
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                body = os.environ["DEVMESH_SERVICE"].encode()
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    @Test func theHeaderPicksTheVersion() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "orders: python3 -u app.py\norders-v2: python3 -u app.py\n",
            "devmesh.yaml": """
                services:
                  orders: {health: {tcp: true}}
                  orders-v2: {health: {tcp: true}}
                gateway:
                  routes:
                    - {path: /api/orders, to: orders, deprecated: {sunset: 2027-06-30, link: "https://docs.example/v2"}}
                    - {path: /api/orders, to: orders-v2, version: "2"}

                """,
        ])
        let (up, https) = try await GatewayTests.up(stack, services: 2)
        let url = "https://localhost:\(https)/api/orders/1"
        let v1 = try await GatewayTests.curl(["-D", "-", url])
        #expect(v1.body.hasSuffix("orders"), "\(v1.body)")
        let fields = v1.body.lowercased()
        #expect(fields.contains("deprecation: true") && fields.contains("sunset: wed, 30 jun 2027 00:00:00 gmt"), "\(v1.body)")
        #expect(fields.contains("link: <https://docs.example/v2>; rel=\"deprecation\"") && fields.contains("vary: accept-version"))
        let v2 = try await GatewayTests.curl(["-D", "-", "-H", "Accept-Version: 2", url])
        #expect(v2.body.hasSuffix("orders-v2"), "\(v2.body)")
        #expect(!v2.body.lowercased().contains("deprecation:"))
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}

/// Path rewrites with captured segments, and renamed headers both ways, through the gateway.
@Suite(.serialized, .timeLimit(.minutes(2))) struct GatewayRewriteTests {
    static let app = """
        import os
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                print("GOT %s account=%s user=%s" % (self.path, self.headers.get("x-account"), self.headers.get("x-user")), flush=True)
                self.send_response(200); self.send_header("Content-Length", "2"); self.send_header("X-Internal-Id", "7")
                self.end_headers(); self.wfile.write(b"ok")
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    @Test func capturesRewriteThePathAndFieldsAreRenamed() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "users: python3 -u app.py\n",
            "devmesh.yaml": """
                services:
                  users: {health: {tcp: true}}
                gateway:
                  routes:
                    - path: "/api/v1/users/{id}"
                      to: users
                      rewrite: "/users/{id}"
                      headers: {rename: {X-User: X-Account}}
                      response_headers: {rename: {X-Internal-Id: X-Request-Ref}}

                """,
        ])
        let (up, https) = try await GatewayTests.up(stack, services: 1)
        let r = try await GatewayTests.fields(["-H", "X-User: ann"], "https://localhost:\(https)/api/v1/users/42/profile?full=1")
        #expect(r.status == "200")
        #expect(r.fields.contains("x-request-ref: 7") && !r.fields.contains("x-internal-id: 7"), "\(r.fields)")
        #expect(await up.waitFor("GOT /users/42/profile?full=1 account=ann user=None"))
        // A capture is one plain segment: an encoded `..` or slash never climbs out of the rewrite.
        for sneaky in ["/api/v1/users/%2e%2e/admin", "/api/v1/users/a%2Fb", "/api/v1/users/../../admin"] {
            let r = try await GatewayTests.fields(["--path-as-is"], "https://localhost:\(https)\(sneaky)")
            #expect(r.status == "404" || r.status == "400", "\(sneaky): \(r.status)")
        }
        #expect(!up.output.contains { $0.contains("GOT") && $0.contains("admin") }, "nothing reached the app")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}

/// API keys on a route, through the real gateway: 401 with a challenge without or with a wrong
/// key; the right one (header or query) passes as its name, never as the key; a limit `by: key`
/// counts per key; spans carry the key's name.
@Suite(.serialized, .timeLimit(.minutes(2))) struct GatewayAPIKeyTests {
    static let app = """
        import os
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                print("GOT %s name=%s key=%s" % (self.path, self.headers.get("x-api-key-name"), self.headers.get("x-api-key")), flush=True)
                self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    @Test func keysNamesAndLimits() async throws {
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "api: python3 -u app.py\n",
            "keys.txt": APIKeysFixture.file,
            "devmesh.yaml": """
                services:
                  api: {health: {tcp: true}}
                gateway:
                  routes:
                    - {path: /api, to: api, auth: {api_keys: keys.txt}, rate_limit: {requests: 2, per: 1m, by: key}}

                """,
        ])
        let check = try await DevMeshBinary.runDetached(["check"], in: stack.root)
        #expect(check.code == 0 && !check.stdout.contains("not implemented"), "\(check.stdout)")
        let (up, https) = try await GatewayTests.up(stack, services: 1)
        let base = "https://localhost:\(https)/api/items"
        let none = try await GatewayTests.fields([], base + "?n=none")
        #expect(none.status == "401")
        #expect(none.fields.contains("www-authenticate: apikey realm=\"devmesh\", header=\"x-api-key\""), "\(none.fields)")
        #expect(none.fields.contains("x-devmesh-error: api-key-missing"))
        #expect(try await GatewayTests.fields(["-H", "X-Api-Key: guess"], base + "?n=wrong").status == "401")
        #expect(try await GatewayTests.fields(["-H", "X-Api-Key: mobile-key-123", "-H", "X-Api-Key-Name: admin"], base + "?n=m1").status == "200")
        #expect(await up.waitFor("GOT /api/items?n=m1 name=mobile key=None"), "the key's name, never the key, and no spoofed name")
        #expect(try await GatewayTests.fields([], base + "?n=m2&api_key=mobile-key-123").status == "200")
        #expect(await up.waitFor("GOT /api/items?n=m2 name=mobile key=None"), "the key is taken out of the query too")
        #expect(try await GatewayTests.fields(["-H", "X-Api-Key: mobile-key-123"], base + "?n=m3").status == "429", "two per minute for mobile")
        #expect(try await GatewayTests.fields(["-H", "X-Api-Key: partner-key-456"], base + "?n=p1").status == "200", "partner has its own")
        #expect(!up.output.contains { $0.contains("n=none") || $0.contains("n=wrong") || $0.contains("n=m3") })

        var named = ""
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            named = try await DevMeshBinary.runDetached(["traces", "--json", "--attr", "devmesh.api_key.name=partner"], in: stack.root).stdout
            if named.contains("/api/items") { break }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        #expect(named.contains("/api/items"), "spans carry the key's name: \(named.prefix(300))")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}

enum APIKeysFixture {
    static let file = """
        mobile   sha256:258a340e0c52dd3f1b06b3ffdb7db76d24acf2256367727e06e5b4632a82ab1a
        partner  sha256:d1befb14a63e7ced66c1ee0868800d6330e970e6f6e5c03dc847a97fa65c588e

        """
}
