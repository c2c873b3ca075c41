import DevMeshCore
import Foundation
import DevMeshPolicy
import JWTKit
import NIOConcurrencyHelpers

/// Istio's RequestAuthentication for one workload: finds the token where the JWT rules say
/// (by default `Authorization: Bearer` and `?access_token=`), verifies it with the issuer's JWKS
/// and yields the request principal `<iss>/<sub>` and the claims. No token: no identity (the
/// policies decide). A bad token: 401, whatever the policies say.
public final class RequestAuthenticator: Sendable {
    public let rules: [RequestAuthentication.JWTRule]
    let store: JWKSStore
    let clock: @Sendable () -> Int64
    private let cache = NIOLockedValueBox<[String: CachedOutcome]>([:])

    /// Envoy's default clock skew for `exp` and `nbf`.
    public static let leewaySeconds = TokenClaimsCheck.leewaySeconds
    static let cacheLimit = 4096

    struct CachedOutcome {
        let outcome: Outcome
        let until: Int64
    }

    /// Fetches a remote JWKS again now (rate-limited by whoever provides it); true when the
    /// store may hold newer keys. Asked when a URL's keys are missing (its issuer may be a service
    /// of the stack that was not up yet) or lack a token's `kid` (a rotated key).
    public typealias Refresh = @Sendable (String) async -> Bool
    let refresh: Refresh?

    public init(rules: [RequestAuthentication.JWTRule], store: JWKSStore, refresh: Refresh? = nil,
                clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.rules = rules
        self.store = store
        self.refresh = refresh
        self.clock = clock
    }

    static func isRemote(_ source: String) -> Bool { source.hasPrefix("http://") || source.hasPrefix("https://") }

    /// The key under which a rule's JWKS lives in the store.
    public static func source(of rule: RequestAuthentication.JWTRule) -> String? {
        if let uri = rule.jwksUri { return uri }
        if let inline = rule.jwks { return "inline:" + inline }
        return nil
    }

    // MARK: - Finding the token

    public struct FoundToken: Sendable, Equatable {
        public let token: String
        /// The header it came from (lower-case), to strip unless `forwardOriginalToken`.
        public let header: String?
        /// The rules that look where it was found.
        let ruleIndexes: [Int]
    }

    public enum Lookup: Sendable, Equatable {
        case none
        case token(FoundToken)
        case rejected(JWTRejection)
    }

    /// Looks for tokens in the request; `fields` are its (name, value) pairs as received (names
    /// are compared ignoring ASCII case, without lower-casing every field of every request).
    public func find(fields: [(name: String, value: String)], query: Substring?) -> Lookup {
        var found: [String: (header: String?, rules: [Int])] = [:]
        var order: [String] = []
        func add(_ token: String, header: String?, rule: Int) {
            guard !token.isEmpty else { return }
            if found[token] == nil { order.append(token); found[token] = (header, []) }
            found[token]!.rules.append(rule)
        }
        let parameters = query.map(Self.queryParameters) ?? []
        let cookies = lookingInCookies ? fields.filter { Self.sameName($0.name, "cookie") }.flatMap { Self.cookies($0.value) } : []
        for (i, rule) in rules.enumerated() {
            let usesDefaults = rule.fromHeaders.isEmpty && rule.fromParams.isEmpty && rule.fromCookies.isEmpty
            let headers = usesDefaults ? [RequestAuthentication.JWTRule.HeaderSource(name: "authorization", prefix: "Bearer ")] : rule.fromHeaders
            let params = usesDefaults ? ["access_token"] : rule.fromParams
            for source in headers {
                let name = source.name.lowercased()
                for field in fields where Self.sameName(field.name, name) {
                    var value = Substring(field.value)
                    if let prefix = source.prefix, !prefix.isEmpty {
                        guard value.lowercased().hasPrefix(prefix.lowercased()) else { continue }
                        value = value.dropFirst(prefix.count)
                    }
                    add(String(value.trimmingSpaces), header: name, rule: i)
                }
            }
            for param in params {
                for (k, v) in parameters where k == param { add(v, header: nil, rule: i) }
            }
            for name in rule.fromCookies {
                for (k, v) in cookies where k == name { add(v, header: nil, rule: i) }
            }
        }
        guard let first = order.first else { return .none }
        guard order.count == 1 else { return .rejected(.multipleTokens) }
        return .token(FoundToken(token: first, header: found[first]!.header, ruleIndexes: found[first]!.rules))
    }

    // MARK: - Verifying it

    public struct Authenticated: Sendable, Equatable {
        public let principal: String
        public let claims: [String: AttributeValue]
        public let issuer: String
        /// Headers to set for the upstream (`outputClaimToHeaders`).
        public let outputHeaders: [(name: String, value: String)]
        public let forwardOriginalToken: Bool

        public static func == (a: Authenticated, b: Authenticated) -> Bool {
            a.principal == b.principal && a.claims == b.claims && a.issuer == b.issuer
                && a.outputHeaders.map { $0.name + ":" + $0.value } == b.outputHeaders.map { $0.name + ":" + $0.value }
                && a.forwardOriginalToken == b.forwardOriginalToken
        }
    }

    public enum Outcome: Sendable, Equatable {
        case authenticated(Authenticated)
        case rejected(JWTRejection)
    }

    /// Verifies a token given as such (`policy test`'s `jwt:`), against every rule.
    public func verify(token: String) async -> Outcome {
        await verify(FoundToken(token: token, header: nil, ruleIndexes: Array(rules.indices)))
    }

    /// A verdict on this token computed before and still valid, without waiting.
    public func cached(_ found: FoundToken) -> Outcome? {
        let now = clock()
        return cache.withLockedValue { cache in
            guard let hit = cache[found.token] else { return nil }
            if hit.until < now { cache[found.token] = nil; return nil }
            return hit.outcome
        }
    }

    public func verify(_ found: FoundToken) async -> Outcome {
        if let hit = cached(found) { return hit }
        let outcome = await check(found)
        let now = clock()
        var until = now + 300
        switch outcome {
        case .authenticated(let a):
            if let exp = TokenClaimsCheck.seconds(a.claims["exp"]) { until = min(until, exp + Self.leewaySeconds) }
        case .rejected(.keysUnavailable): until = now
        case .rejected: until = now + 60
        }
        if until > now {
            cache.withLockedValue { cache in
                if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
                cache[found.token] = CachedOutcome(outcome: outcome, until: until)
            }
        }
        return outcome
    }

    func check(_ found: FoundToken) async -> Outcome {
        let jwt: CompactJWT
        do { jwt = try CompactJWT(found.token) } catch { return .rejected(.malformed(error.description)) }
        guard jwt.algorithm.lowercased() != "none" else { return .rejected(.algorithmNone) }
        guard let ruleIndex = found.ruleIndexes.first(where: { rules[$0].issuer == jwt.claimedIssuer }) else {
            return .rejected(.unknownIssuer(jwt.claimedIssuer))
        }
        let rule = rules[ruleIndex]
        guard let source = Self.source(of: rule) else { return .rejected(.keysUnavailable("the JWT rule for `\(rule.issuer)` names no JWKS")) }
        var refreshed = false
        var candidates: [JWKSKeys.Key] = []
        while true {
            let rejection: JWTRejection
            switch store.keys(for: source) {
            case .keys(let keys)?:
                switch keys.candidates(kid: jwt.keyID, algorithm: jwt.algorithm) {
                case .success(let c): candidates = c; rejection = .badSignature
                case .failure(let r): rejection = r
                }
            case .unavailable(let why)?: rejection = .keysUnavailable(why)
            case nil: rejection = .keysUnavailable("the JWKS of `\(rule.issuer)` has not been loaded yet")
            }
            if !candidates.isEmpty { break }
            // Missing keys, or a kid they do not hold: a URL is asked again once (never a fall-back
            // to another key).
            switch rejection {
            case .keysUnavailable, .unknownKeyID:
                if !refreshed, Self.isRemote(source), let refresh, await refresh(source) {
                    refreshed = true
                    continue
                }
            default: break
            }
            return .rejected(rejection)
        }
        var verified: TokenClaims?
        for key in candidates {
            if let claims = try? await key.collection.verify(found.token, as: TokenClaims.self) {
                verified = claims
                break
            }
        }
        guard let claims = verified?.values else { return .rejected(.badSignature) }
        // The signed issuer, not the one read before verification, is what counts.
        guard case .string(let issuer)? = claims["iss"], issuer == rule.issuer else { return .rejected(.unknownIssuer(claims["iss"]?.text)) }
        switch TokenClaimsCheck.problem(claims, rule: rule, nowSeconds: clock()) {
        case .expired?: return .rejected(.expired)
        case .notYetValid?: return .rejected(.notYetValid)
        case .audience(let got, let expected)?: return .rejected(.audience(got, expected: expected))
        case nil: break
        }
        let outputs: [(name: String, value: String)] = rule.outputClaimToHeaders.compactMap { pair in
            guard let value = claims[pair.claim] else { return nil }
            switch value {
            case .string, .int, .bool, .double: return (pair.header.lowercased(), value.text)
            default: return nil
            }
        }
        return .authenticated(Authenticated(principal: issuer + "/" + (claims["sub"]?.text ?? ""), claims: claims, issuer: issuer,
                                            outputHeaders: outputs, forwardOriginalToken: rule.forwardOriginalToken))
    }


    var lookingInCookies: Bool { rules.contains { !$0.fromCookies.isEmpty } }

    /// ASCII case-insensitive equality with a lower-case `name`.
    static func sameName(_ field: String, _ name: String) -> Bool {
        var a = field.utf8.makeIterator(), b = name.utf8.makeIterator()
        while true {
            switch (a.next(), b.next()) {
            case (nil, nil): return true
            case (let x?, let y?):
                let lower = x >= 0x41 && x <= 0x5A ? x | 0x20 : x
                if lower != y { return false }
            default: return false
            }
        }
    }

    static func queryParameters(_ query: Substring) -> [(String, String)] {
        query.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            let value = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            return (key, value)
        }
    }

    static func cookies(_ header: String) -> [(String, String)] {
        header.split(separator: ";").compactMap { part in
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { return nil }
            return (String(kv[0].trimmingSpaces), String(kv[1].trimmingSpaces))
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
