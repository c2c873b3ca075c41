import DevMeshAuth
import DevMeshCore
import DevMeshPolicy
import DevMeshTesting
import Foundation
import NIOConcurrencyHelpers
import Testing

/// RequestAuthentication against tokens signed by an independent test issuer, including the
/// attacks of the issue: `alg: none`, HS256 keyed with the RSA public key, unknown or injected
/// `kid`, expiry beyond the leeway, wrong issuer or audience.
@Suite struct RequestAuthenticatorTests {
    let issuer: TestIssuer
    let store = JWKSStore()

    /// One issuer for the suite: an RSA key takes a while to generate, and every test needs one.
    static let shared = Result { try TestIssuer() }

    init() async throws {
        issuer = try Self.shared.get()
        store.update("inline:" + issuer.jwks, with: .keys(try await JWKSKeys.parse(issuer.jwks)))
    }

    func authenticator(audiences: [String] = [], _ edit: (inout RequestAuthentication.JWTRule) -> Void = { _ in },
                       now: Int64? = nil) -> RequestAuthenticator {
        var rule = RequestAuthentication.JWTRule(issuer: issuer.issuer, audiences: audiences, jwks: issuer.jwks)
        edit(&rule)
        if let now { return RequestAuthenticator(rules: [rule], store: store, clock: { now }) }
        return RequestAuthenticator(rules: [rule], store: store)
    }

    func outcome(_ auth: RequestAuthenticator, bearer token: String) async -> RequestAuthenticator.Outcome? {
        guard case .token(let found) = auth.find(fields: [("authorization", "Bearer " + token)], query: nil) else { return nil }
        return await auth.verify(found)
    }

    func rejection(_ auth: RequestAuthenticator, _ token: String) async -> JWTRejection? {
        if case .rejected(let why)? = await outcome(auth, bearer: token) { return why }
        return nil
    }

    @Test func validTokensGiveThePrincipalAndClaims() async throws {
        let auth = authenticator(audiences: ["shop"])
        for signing in [TestIssuer.Signing.es256, .rs256] {
            let token = try issuer.token(issuer.claims(sub: "alice", audience: "shop", extra: ["groups": ["admin", "dev"]]), signing: signing)
            guard case .authenticated(let a)? = await outcome(auth, bearer: token) else {
                Issue.record("\(signing) token refused: \(String(describing: await outcome(auth, bearer: token)))")
                continue
            }
            #expect(a.principal == "https://issuer.test/alice")
            #expect(a.claims["groups"] == .array([.string("admin"), .string("dev")]))
        }
        // Without a kid every key of the token's family is tried.
        let noKid = try issuer.token(issuer.claims(audience: "shop"), signing: .rs256, kid: .some(nil))
        guard case .authenticated? = await outcome(auth, bearer: noKid) else { Issue.record("kid-less token refused"); return }
    }

    @Test func algNoneIsRefused() async throws {
        let token = try issuer.token(issuer.claims(), signing: .none)
        #expect(await rejection(authenticator(), token) == .algorithmNone)
        let unsignedWithKid = try issuer.token(issuer.claims(), signing: .none, kid: TestIssuer.ecKeyID)
        #expect(await rejection(authenticator(), unsignedWithKid) == .algorithmNone)
    }

    @Test func hs256KeyedWithTheRSAPublicKeyIsRefused() async throws {
        let token = try issuer.token(issuer.claims(), signing: .hs256WithRSAPublicKey)
        guard case .algorithmMismatch("HS256", _)? = await rejection(authenticator(), token) else {
            Issue.record("HS/RS confusion not refused as an algorithm mismatch"); return
        }
        let noKid = try issuer.token(issuer.claims(), signing: .hs256WithRSAPublicKey, kid: .some(nil))
        guard case .algorithmMismatch? = await rejection(authenticator(), noKid) else { Issue.record("kid-less HS256 accepted"); return }
    }

    @Test func unknownOrInjectedKeyIDsAreErrorsNotFallbacks() async throws {
        let unknown = try issuer.token(issuer.claims(), signing: .es256, kid: "no-such-key")
        #expect(await rejection(authenticator(), unknown) == .unknownKeyID("no-such-key"))
        let injected = try issuer.token(issuer.claims(), signing: .es256, kid: "../../dev/null' OR 1=1 --")
        #expect(await rejection(authenticator(), injected) == .unknownKeyID("../../dev/null' OR 1=1 --"))
        // A real kid of the other key: the ES256 signature cannot be checked with the RSA key.
        let swapped = try issuer.token(issuer.claims(), signing: .es256, kid: TestIssuer.rsaKeyID)
        guard case .algorithmMismatch? = await rejection(authenticator(), swapped) else { Issue.record("kid swap accepted"); return }
    }

    @Test func tamperedTokensFailTheSignature() async throws {
        let token = try issuer.token(issuer.claims(sub: "alice"))
        let parts = token.split(separator: ".")
        let forged = TestIssuer.b64(try JSONSerialization.data(withJSONObject: issuer.claims(sub: "root")))
        #expect(await rejection(authenticator(), parts[0] + "." + forged + "." + parts[2]) == .badSignature)
        let other = try TestIssuer()
        #expect(await rejection(authenticator(), try other.token(other.claims())) == .badSignature)
    }

    @Test func expiryAndNotBeforeHaveSixtySecondsOfLeeway() async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let justExpired = try issuer.token(issuer.claims(expiresIn: -30))
        guard case .authenticated? = await outcome(authenticator(now: now), bearer: justExpired) else {
            Issue.record("expired within the leeway refused"); return
        }
        let longExpired = try issuer.token(issuer.claims(expiresIn: -61))
        #expect(await rejection(authenticator(now: now), longExpired) == .expired)
        let future = try issuer.token(issuer.claims(extra: ["nbf": Int(now) + 120]))
        #expect(await rejection(authenticator(now: now), future) == .notYetValid)
    }

    @Test func wrongIssuerOrAudienceIsRefused() async throws {
        let stranger = try TestIssuer(issuer: "https://evil.test")
        #expect(await rejection(authenticator(), try stranger.token(stranger.claims())) == .unknownIssuer("https://evil.test"))
        let auth = authenticator(audiences: ["shop"])
        #expect(await rejection(auth, try issuer.token(issuer.claims(audience: "other"))) == .audience(["other"], expected: ["shop"]))
        #expect(await rejection(auth, try issuer.token(issuer.claims())) == .audience([], expected: ["shop"]))
    }

    @Test func garbageIsMalformed() async throws {
        for token in ["abc", "a.b", "a.b.c.d", "!!!.???.***", String(repeating: "a", count: 20_000) + ".b.c"] {
            guard case .malformed? = await rejection(authenticator(), token) else { Issue.record("\(token.prefix(20)) not malformed"); continue }
        }
    }

    @Test func tokenLocations() async throws {
        let token = try issuer.token(issuer.claims())
        let defaults = authenticator()
        #expect(defaults.find(fields: [], query: nil) == .none)
        #expect(defaults.find(fields: [("authorization", "Basic dXNlcjpwYXNz")], query: nil) == .none)
        guard case .token = defaults.find(fields: [("AuthoriZation", "bearer " + token)], query: nil) else {
            Issue.record("field names and the Bearer prefix ignore case"); return
        }
        #expect(defaults.find(fields: [("authorisation", "Bearer " + token)], query: nil) == .none)
        guard case .token(let q) = defaults.find(fields: [], query: "a=1&access_token=\(token)") else { Issue.record("query token"); return }
        #expect(q.header == nil)
        let custom = authenticator { rule in
            rule.fromHeaders = [.init(name: "x-jwt", prefix: "Token ")]
            rule.fromCookies = ["session"]
        }
        // Custom locations replace the defaults.
        #expect(custom.find(fields: [("authorization", "Bearer " + token)], query: nil) == .none)
        guard case .token(let h) = custom.find(fields: [("x-jwt", "Token " + token)], query: nil) else { Issue.record("header token"); return }
        #expect(h.header == "x-jwt")
        guard case .token = custom.find(fields: [("cookie", "a=b; session=\(token)")], query: nil) else { Issue.record("cookie token"); return }
        let two = try issuer.token(issuer.claims(sub: "bob"))
        #expect(custom.find(fields: [("x-jwt", "Token " + token), ("cookie", "session=\(two)")], query: nil) == .rejected(.multipleTokens))
    }

    @Test func outputClaimsToHeaders() async throws {
        let auth = authenticator { $0.outputClaimToHeaders = [(header: "x-user", claim: "sub"), (header: "x-groups", claim: "groups")] }
        guard case .authenticated(let a)? = await outcome(auth, bearer: try issuer.token(issuer.claims(extra: ["groups": ["a"]]))) else {
            Issue.record("refused"); return
        }
        // Only scalar claims are copied (as Istio does).
        #expect(a.outputHeaders.map(\.name) == ["x-user"])
        #expect(a.outputHeaders.first?.value == "alice")
        #expect(!a.forwardOriginalToken)
    }

    @Test func missingKeysAreReportedNotGuessed() async throws {
        var rule = RequestAuthentication.JWTRule(issuer: issuer.issuer, jwksUri: "https://keys.test/jwks.json")
        rule.audiences = []
        let auth = RequestAuthenticator(rules: [rule], store: JWKSStore())
        guard case .keysUnavailable? = await rejection(auth, try issuer.token(issuer.claims())) else { Issue.record("no keys but accepted"); return }
    }

    @Test func jwksParsing() async throws {
        await #expect(throws: JWKSKeys.Invalid.self) { try await JWKSKeys.parse("not json") }
        await #expect(throws: JWKSKeys.Invalid.self) { try await JWKSKeys.parse(#"{"keys": []}"#) }
        await #expect(throws: JWKSKeys.Invalid.self) { try await JWKSKeys.parse(#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#) }
        let keys = try await JWKSKeys.parse(issuer.jwks)
        #expect(keys.count == 2)
    }

    /// A remote JWKS is asked again when it is missing or lacks the token's `kid` (a rotated key)
    /// — once per verification — and a `kid` still unknown after that stays an error.
    @Test func aRemoteJWKSIsRefreshedForAMissingOrUnknownKey() async throws {
        let url = "https://keys.test/jwks.json"
        let store = JWKSStore()
        let asked = Counter()
        let rotated = try TestIssuer(issuer: issuer.issuer)
        let serving = Box(issuer.jwks)
        let refresh: RequestAuthenticator.Refresh = { source in
            asked.increment()
            guard let keys = try? await JWKSKeys.parse(serving.value) else { return false }
            store.update(source, with: .keys(keys))
            return true
        }
        let auth = RequestAuthenticator(rules: [.init(issuer: issuer.issuer, jwksUri: url)], store: store, refresh: refresh)
        // Nothing loaded yet (the issuer was not up at `devmesh up`): fetched on first use.
        guard case .authenticated? = await outcome(auth, bearer: try issuer.token(issuer.claims())) else { Issue.record("first use"); return }
        #expect(asked.value == 1)
        // The issuer rotates to a key with the same kid: a signature failure, no refetch.
        #expect(await rejection(auth, try rotated.token(rotated.claims())) == .badSignature)
        #expect(asked.value == 1)
        // An unknown kid is asked about once; when the JWKS now has it, the token is good.
        let next = try TestIssuer(issuer: issuer.issuer, keyIDPrefix: "2-")
        serving.value = next.jwks
        guard case .authenticated? = await outcome(auth, bearer: try next.token(next.claims())) else { Issue.record("rotated key"); return }
        #expect(asked.value == 2)
        // Still unknown after a refresh: an error, not the old key.
        #expect(await rejection(auth, try issuer.token(issuer.claims(), kid: "nope")) == .unknownKeyID("nope"))
        #expect(asked.value == 3)
        // Inline and file JWKS are never "refreshed" this way.
        let inline = RequestAuthenticator(rules: [.init(issuer: issuer.issuer, jwks: issuer.jwks)], store: self.store, refresh: refresh)
        #expect(await rejection(inline, try issuer.token(issuer.claims(), kid: "nope")) == .unknownKeyID("nope"))
        #expect(asked.value == 3)
    }
}

final class Counter: Sendable {
    private let box = NIOLockedValueBox(0)
    func increment() { box.withLockedValue { $0 += 1 } }
    var value: Int { box.withLockedValue { $0 } }
}

final class Box<T: Sendable>: Sendable {
    private let box: NIOLockedValueBox<T>
    init(_ value: T) { box = NIOLockedValueBox(value) }
    var value: T {
        get { box.withLockedValue { $0 } }
        set { box.withLockedValue { $0 = newValue } }
    }
}
