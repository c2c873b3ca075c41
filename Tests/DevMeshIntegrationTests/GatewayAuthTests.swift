import DevMeshCore
import DevMeshTesting
import Foundation
import Testing

/// A route's `auth: {basic}` and `auth: {jwt}` through a real `devmesh up`, over TLS with curl.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayAuthTests {
    static let app = """
        import os
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                print("GOT %s user=%s authz=%s x-user=%s" % (self.path, self.headers.get("x-auth-user"),
                      "yes" if self.headers.get("authorization") else "no", self.headers.get("x-user")), flush=True)
                self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
            def log_message(self, *a): pass
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    static let authentication = """
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: api-jwt, namespace: default}
        spec:
          selector: {matchLabels: {app: nobody}}
          jwtRules:
            - issuer: https://issuer.test
              audiences: [shop]
              jwksUri: keys/jwks.json
              outputClaimToHeaders:
                - {header: x-user, claim: sub}
        """

    @Test func basicAndJWTRoutesRefuseWithAChallengeAndPassWhoTheCallerIs() async throws {
        let issuer = try TestIssuer()
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "api: python3 -u app.py\n",
            "htpasswd": BasicCredentialsFixture.file,
            "keys/jwks.json": issuer.jwks,
            "policies/auth.yaml": Self.authentication,
            "devmesh.yaml": """
                services:
                  api: {health: {tcp: true}}
                policies: [policies/]
                gateway:
                  routes:
                    - {path: /admin, to: api, auth: {basic: htpasswd}}
                    - {path: /api, to: api, auth: {jwt: default/api-jwt}, rate_limit: {requests: 2, per: 1m, by: jwt_sub}}

                """,
        ])
        let check = try await DevMeshBinary.runDetached(["check"], in: stack.root)
        #expect(check.code == 0 && !check.stdout.contains("not implemented"), "\(check.stdout)")
        let (up, https) = try await GatewayTests.up(stack, services: 1)
        let admin = "https://localhost:\(https)/admin"

        let none = try await GatewayTests.fields([], admin + "?n=none")
        #expect(none.status == "401")
        #expect(none.fields.contains("www-authenticate: basic realm=\"devmesh\", charset=\"utf-8\""), "\(none.fields)")
        #expect(none.fields.contains("x-devmesh-error: basic-missing"))
        let wrong = try await GatewayTests.fields(["-u", "bob:hunter3"], admin + "?n=wrong")
        #expect(wrong.status == "401" && wrong.fields.contains("x-devmesh-error: basic-invalid"), "\(wrong)")
        #expect(try await GatewayTests.fields(["-u", "eve:hunter2"], admin + "?n=eve").status == "401", "unknown user")
        #expect(try await GatewayTests.fields(["-u", "bob:hunter2", "-H", "X-Auth-User: root"], admin + "?n=b1").status == "200")
        #expect(await up.waitFor("GOT /admin?n=b1 user=bob authz=no"), "the user's name, no password, no spoofed name")
        #expect(try await GatewayTests.fields(["-u", "ali:open sesame"], admin + "?n=a1").status == "200", "$2y$ from htpasswd -B")
        #expect(try await GatewayTests.fields(["-u", "bob:hunter2"], admin + "?n=b2").status == "200", "the verified pair again")
        #expect(await up.waitFor("GOT /admin?n=b2 user=bob"))

        let api = "https://localhost:\(https)/api"
        let missing = try await GatewayTests.fields([], api + "?n=none")
        #expect(missing.status == "401" && missing.fields.contains("www-authenticate: bearer realm=\"devmesh\""), "\(missing)")
        #expect(missing.fields.contains("x-devmesh-error: jwt-missing"))
        let expired = try issuer.token(issuer.claims(sub: "alice", audience: "shop", expiresIn: -3600))
        let stale = try await GatewayTests.fields(["-H", "Authorization: Bearer \(expired)"], api + "?n=expired")
        #expect(stale.status == "401" && stale.fields.contains { $0.hasPrefix("www-authenticate: bearer realm=\"devmesh\", error=\"invalid_token\"") },
                "\(stale)")
        let alice = try issuer.token(issuer.claims(sub: "alice", audience: "shop"))
        let bob = try issuer.token(issuer.claims(sub: "bob", audience: "shop"))
        #expect(try await GatewayTests.fields(["-H", "Authorization: Bearer \(alice)"], api + "?n=a1").status == "200")
        #expect(await up.waitFor("GOT /api?n=a1 user=None authz=no x-user=alice"), "token stripped, claim passed on")
        #expect(try await GatewayTests.fields(["-H", "Authorization: Bearer \(alice)"], api + "?n=a2").status == "200")
        let over = try await GatewayTests.fields(["-H", "Authorization: Bearer \(alice)"], api + "?n=a3")
        #expect(over.status == "429", "two a minute per subject")
        #expect(try await GatewayTests.fields(["-H", "Authorization: Bearer \(bob)"], api + "?n=b1").status == "200", "bob has his own budget")
        #expect(!up.output.contains { $0.contains("n=none") || $0.contains("n=wrong") || $0.contains("n=eve") || $0.contains("n=expired") || $0.contains("n=a3") })

        var named = ""
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            named = try await DevMeshBinary.runDetached(["traces", "--json", "--attr", "enduser.id=bob"], in: stack.root).stdout
            if named.contains("/admin") { break }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        #expect(named.contains("/admin"), "spans carry the user: \(named.prefix(300))")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }

    @Test func aRouteNamingAnUnknownRequestAuthenticationOrAWeakHashStopsCheckAndUp() async throws {
        let stack = try TempStack([
            "Procfile": "api: python3 -m http.server $PORT --bind 127.0.0.1\n",
            "htpasswd": "old:$apr1$abcdefgh$0123456789abcdefghijkl\n",
            "devmesh.yaml": """
                services:
                  api: {health: {tcp: true}}
                gateway:
                  routes:
                    - {path: /admin, to: api, auth: {basic: htpasswd}}
                    - {path: /api, to: api, auth: {jwt: default/api-jwt}}

                """,
        ])
        let check = try await DevMeshBinary.runDetached(["check"], in: stack.root)
        #expect(check.code == 1)
        #expect(check.stdout.contains("htpasswd:1:1") && check.stdout.contains("$apr1$") && check.stdout.contains("htpasswd -B"), "\(check.stdout)")
        #expect(check.stdout.contains("devmesh.yaml:6:") && check.stdout.contains("no RequestAuthentication `default/api-jwt`"), "\(check.stdout)")
        let up = try await DevMeshBinary.runDetached(["up"], in: stack.root)
        #expect(up.code != 0)
        #expect((up.stdout + up.stderr).contains("`auth` has errors"), "\(up.stderr)")
    }
}

enum BasicCredentialsFixture {
    /// `ali` / "open sesame" as `htpasswd -B` writes it (`$2y$`), `bob` / "hunter2" as `$2b$`.
    static let file = """
        ali:$2y$06$qBxblXiJckENfGpdstwQP./dFV96eWoQ54gGD/zuv7RqSyx0tI4US
        bob:$2b$06$E5lJ1jFb.NaNcJYxro0DGud1ytvpx3100dpAuUErPGA8bO1rvCcB6

        """
}
