import DevMeshCore
import DevMeshSupervisor
import DevMeshTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// RequestAuthentication and AuthorizationPolicy through a real `devmesh up`: tokens checked at
/// the gateway (over TLS, with curl) and at the inbound sidecar, the attacks of the issue refused
/// with 401 and a `WWW-Authenticate` challenge, claims copied to headers, decisions on the spans,
/// and policy files reloaded live (a broken file keeps the set in force).
@Suite(.serialized, .timeLimit(.minutes(3))) struct JWTEnforcementTests {
    static let app = """
        import os
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer as HTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                print("GOT %s user=%s auth=%s" % (self.path, self.headers.get("x-user"), "yes" if self.headers.get("authorization") else "no"), flush=True)
                body = b"app"
                self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers(); self.wfile.write(body)
            do_DELETE = do_GET
            def log_message(self, *a): pass
        HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    static let authentication = """
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: issuer, namespace: istio-system}
        spec:
          jwtRules:
            - issuer: https://issuer.test
              audiences: [shop]
              jwksUri: keys/jwks.json
              forwardOriginalToken: true
              outputClaimToHeaders:
                - {header: x-user, claim: sub}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: users-jwt, namespace: default}
        spec:
          selector: {matchLabels: {app: users}}
          action: ALLOW
          rules:
            - from:
                - source: {requestPrincipals: ["https://issuer.test/*"]}
              to:
                - operation: {methods: [GET]}
            - to:
                - operation: {methods: [DELETE]}
              when:
                - {key: "request.auth.claims[groups]", values: [admin]}
        """

    func curl(_ https: Int, _ path: String, token: String? = nil, method: String = "GET") async throws -> (status: String, body: String, challenge: String?) {
        var args = ["-D", "-", "-X", method]
        if let token { args += ["-H", "Authorization: Bearer \(token)"] }
        let r = try await GatewayTests.curl(args + ["https://users.localhost:\(https)\(path)"])
        let challenge = r.body.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("www-authenticate:") }
        return (r.status, r.body, challenge)
    }

    @Test func tokensAtTheGatewayAndTheSidecarWithLiveReload() async throws {
        let issuer = try TestIssuer()
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "users: python3 -u app.py\n",
            "devmesh.yaml": "services:\n  users: {health: {tcp: true}}\ngateway: {}\npolicies: [policies/]\n",
            "keys/jwks.json": issuer.jwks,
            "policies/auth.yaml": Self.authentication,
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 1 service is ready"))
        #expect(up.output.contains { $0.contains("1 authorization policy and 1 RequestAuthentication enforced") }, "\(up.output)")
        let https = try #require(stack.state?.ports.gateway?["https"])
        let servicePort = try #require(stack.state?.ports.services["users"])

        // No token: no identity, and the ALLOW policy wants one.
        let anonymous = try await curl(https, "/hello?n=anon")
        #expect(anonymous.status == "403")
        #expect(anonymous.body.hasSuffix("RBAC: access denied"))

        // A valid token: allowed, the subject copied into x-user, the token forwarded (forwardOriginalToken).
        let good = try issuer.token(issuer.claims(sub: "alice", audience: "shop"))
        let ok = try await curl(https, "/hello?n=good", token: good)
        #expect(ok.status == "200", "\(ok.body)")
        #expect(await up.waitFor("GOT /hello?n=good user=alice auth=yes"))
        // A claim condition: DELETE needs groups=admin.
        #expect(try await curl(https, "/x?n=del1", token: good, method: "DELETE").status == "403")
        let admin = try issuer.token(issuer.claims(sub: "root", audience: "shop", extra: ["groups": ["admin"]]), signing: .rs256)
        #expect(try await curl(https, "/x?n=del2", token: admin, method: "DELETE").status == "200")

        // The attacks: 401 with a challenge, and the app never sees them.
        let now = Int(Date().timeIntervalSince1970)
        let stranger = try TestIssuer(issuer: "https://evil.test")
        let attacks: [(String, String)] = [
            ("alg-none", try issuer.token(issuer.claims(audience: "shop"), signing: .none)),
            ("hs256-rsa-key", try issuer.token(issuer.claims(audience: "shop"), signing: .hs256WithRSAPublicKey)),
            ("unknown-kid", try issuer.token(issuer.claims(audience: "shop"), kid: "other")),
            ("injected-kid", try issuer.token(issuer.claims(audience: "shop"), kid: "../../../../dev/null")),
            ("expired", try issuer.token(issuer.claims(audience: "shop", extra: ["exp": now - 120]))),
            ("wrong-iss", try stranger.token(stranger.claims(audience: "shop"))),
            ("wrong-aud", try issuer.token(issuer.claims(audience: "billing"))),
            ("garbage", "not.a.jwt"),
        ]
        for (name, token) in attacks {
            let r = try await curl(https, "/hello?n=\(name)", token: token)
            #expect(r.status == "401", "\(name): \(r.body)")
            #expect(r.challenge?.contains("Bearer realm=\"devmesh\", error=\"invalid_token\"") == true, "\(name): \(r.body)")
        }
        // Straight at the service listener (no gateway): the inbound sidecar checks the token too.
        let direct = try await RawHTTPClient.exchange(port: servicePort,
            "GET /hello?n=direct HTTP/1.1\r\nHost: users\r\nAuthorization: Bearer \(attacks[0].1)\r\nConnection: close\r\n\r\n")
        #expect(direct.statuses == [401], "\(direct.text)")
        #expect(!up.output.contains { $0.contains("GOT ") && ($0.contains("n=alg-none") || $0.contains("n=expired") || $0.contains("n=direct")) })

        // Every decision is on its span: `traces --attr` (the API's attribute filter) finds the
        // refusals. Spans land milliseconds after the answers: ask until they are all there.
        var refused: [TraceSummary] = []
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            let run = try await DevMeshBinary.runDetached(["traces", "--json", "--limit", "100", "--attr", "devmesh.policy.decision=unauthenticated"], in: stack.root)
            #expect(run.code == 0, "\(run.stderr)")
            refused = try JSONDecoder().decode([TraceSummary].self, from: Data(run.stdout.utf8))
            if refused.count >= attacks.count + 1 { break }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        #expect(refused.count == attacks.count + 1, "the gateway's \(attacks.count) and the sidecar's one")
        let allowed = try await DevMeshBinary.runDetached(["traces", "--json", "--attr", "enduser.id=https://issuer.test/alice"], in: stack.root)
        #expect(allowed.stdout.contains("/hello"), "\(allowed.stdout.prefix(300))")

        // Live reload: a DENY added to the folder applies within a second or two, no restart.
        try """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: no-hello, namespace: default}
            spec:
              action: DENY
              rules: [{to: [{operation: {paths: ["/hello*"]}}]}]
            """.write(toFile: stack.root + "/policies/deny.yaml", atomically: true, encoding: .utf8)
        #expect(await up.waitFor("reloaded: 2 authorization policies in force (was 1)"))
        #expect(try await curl(https, "/hello?n=after-reload", token: good).status == "403")
        #expect(try await curl(https, "/other?n=still-allowed", token: good).status == "200")
        // A broken file: reported, and the set in force stays.
        try "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: broken}\nspec: {action: DENY, rules: [{to: [{operation: {pathz: [/x]}}]}]}\n"
            .write(toFile: stack.root + "/policies/broken.yaml", atomically: true, encoding: .utf8)
        #expect(await up.waitFor("not reloaded, the previous policies stay in force: policies/broken.yaml:4"))
        #expect(try await curl(https, "/hello?n=kept", token: good).status == "403")
        #expect(try await curl(https, "/other?n=kept", token: good).status == "200")
        // Fixed: the set loads again. Then the issuer's key file is rotated: new tokens verify,
        // tokens of the old key do not.
        try FileManager.default.removeItem(atPath: stack.root + "/policies/broken.yaml")
        #expect(await up.waitFor("reloaded: 2 authorization policies in force (was 2)"))
        let rotated = try TestIssuer(keyIDPrefix: "2026-")
        try rotated.jwks.write(toFile: stack.root + "/keys/jwks.json", atomically: true, encoding: .utf8)
        #expect(await up.waitFor("reloaded: 2 authorization policies in force (was 2)", count: 2))
        #expect(try await curl(https, "/other?n=rotated", token: try rotated.token(rotated.claims(audience: "shop"))).status == "200")
        #expect(try await curl(https, "/other?n=old-key", token: good).status == "401")

        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }

    /// `jwksUri` as a URL served by a service of the stack itself (a local issuer): not up yet when
    /// devmesh starts (a warning), fetched with async-http-client when the first token needs it.
    @Test func aJWKSURLServedByTheStackIsFetchedWhenATokenNeedsIt() async throws {
        let issuer = try TestIssuer()
        let keysPort = try PortAllocator.freePorts(1, excluding: [])[0]
        let stack = try TempStack([
            "app.py": Self.app,
            "Procfile": "users: python3 -u app.py\nkeys: python3 -m http.server $PORT --bind 127.0.0.1 --directory jwks\n",
            "devmesh.yaml": "services:\n  users: {health: {tcp: true}}\n  keys: {port: \(keysPort), health: {tcp: true}}\npolicies: [policies/]\n",
            "jwks/jwks.json": issuer.jwks,
            "policies/auth.yaml": """
                apiVersion: security.istio.io/v1
                kind: RequestAuthentication
                metadata: {name: local-issuer, namespace: default}
                spec:
                  selector: {matchLabels: {app: users}}
                  jwtRules: [{issuer: "https://issuer.test", jwksUri: "http://127.0.0.1:\(keysPort)/jwks.json"}]
                ---
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: users-token, namespace: default}
                spec:
                  selector: {matchLabels: {app: users}}
                  rules: [{from: [{source: {requestPrincipals: ["https://issuer.test/*"]}}]}]
                """,
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 2 services are ready"))
        #expect(up.output.contains { $0.contains("could not be fetched") && $0.contains("fetched again when a token needs it") }, "\(up.output)")
        let port = try #require(stack.state?.ports.services["users"])
        let token = try issuer.token(issuer.claims(sub: "ann"))
        let reply = try await RawHTTPClient.exchange(port: port,
            "GET /x?n=lazy HTTP/1.1\r\nHost: users\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
        #expect(reply.statuses == [200], "\(reply.text)")
        #expect(await up.waitFor("GOT /x?n=lazy"))
        let none = try await RawHTTPClient.exchange(port: port, "GET /x HTTP/1.1\r\nHost: users\r\nConnection: close\r\n\r\n")
        #expect(none.statuses == [403])
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }
}
