import DevMeshAuth
import DevMeshCore
import DevMeshHTTP1
import DevMeshPolicy
import NIOConcurrencyHelpers

/// A workload's authorization step, as Istio's sidecar runs it: the request path normalised in
/// the stack's mode (refused with 400 when it cannot be), the JWT checked against the
/// RequestAuthentications in scope (a bad token: 401), then the AuthorizationPolicies evaluated
/// with the caller's mTLS principal and the token's identity. The upstream gets the path the
/// policies saw. A class: the data plane takes the current one from its `PolicyGate` per request
/// (one reference, not a copy of every field).
public final class InboundAuthorization: Sendable {
    public let engine: PolicyEngine
    public let workload: PolicyWorkload
    /// `destination.port`: the service's `port:` (the gateway's HTTPS port).
    public let port: Int?
    public let normalization: PolicyNormalization
    public let authenticator: RequestAuthenticator?
    /// Whether any policy for the workload reads request headers (else they are not collected).
    let readsHeaders: Bool
    /// No policy applies: only the path is normalised (and a token, if any rule looks for one, checked).
    let hasPolicies: Bool
    /// The policies that apply to the workload, picked once per policy set.
    let scoped: [AuthorizationPolicy]
    /// The same as Istio reads them for a plain TCP connection (`PolicyEngine.forTCP`).
    let tcpEngine: PolicyEngine
    let tcpScoped: [AuthorizationPolicy]

    public init(engine: PolicyEngine, workload: PolicyWorkload, port: Int?, normalization: PolicyNormalization,
                authenticator: RequestAuthenticator? = nil) {
        self.engine = engine
        self.workload = workload
        self.port = port
        self.normalization = normalization
        self.authenticator = authenticator.flatMap { $0.rules.isEmpty ? nil : $0 }
        let policies = engine.policies(for: workload)
        scoped = policies
        hasPolicies = !policies.isEmpty
        tcpEngine = engine.forTCP()
        tcpScoped = tcpEngine.policies(for: workload)
        readsHeaders = policies.contains { $0.rules.contains { $0.when.contains { ConditionKey.header($0.key) != nil } } }
    }

    /// Whether this step records a decision on the span (policies or JWT rules apply).
    public var isActive: Bool { hasPolicies || authenticator != nil }

    public enum Outcome: Sendable {
        /// Go on, with this target (normalised path, query untouched) and these header edits.
        case allow(target: String, edits: HeaderEdits?, note: PolicyNote?)
        case deny(PolicyNote)
        case badRequest(String)
        /// The token was refused: 401 with a `WWW-Authenticate` challenge.
        case unauthenticated(JWTRejection, PolicyNote)
        /// A token whose verdict is not cached: verify it (off the event loop), then check again
        /// passing the outcome.
        case authenticate(RequestAuthenticator.FoundToken)
    }

    /// `targetIsNormalised`: the caller normalised it already (the gateway does, before routing).
    public func check(_ head: HTTP1RequestHead, target: String, targetIsNormalised: Bool = false, principal: String?, sourceIP: String?,
                      authentication: RequestAuthenticator.Outcome? = nil) -> Outcome {
        let normalised: String
        if targetIsNormalised {
            normalised = target
        } else {
            switch PathNormalization.normalize(target, mode: normalization) {
            case .success(let path): normalised = path
            case .failure(let rejection): return .badRequest("the request path cannot be normalised: \(rejection)")
            }
        }
        var authenticated: RequestAuthenticator.Authenticated?
        var foundHeader: String?
        if let authenticator {
            let query = normalised.firstIndex(of: "?").map { normalised[normalised.index(after: $0)...] }
            let fields = head.fields.map { (name: $0.name, value: $0.value) }
            switch authenticator.find(fields: fields, query: query) {
            case .none: break
            case .rejected(let why): return .unauthenticated(why, PolicyNote(decision: "unauthenticated", reason: why.description))
            case .token(let found):
                guard let outcome = authentication ?? authenticator.cached(found) else { return .authenticate(found) }
                switch outcome {
                case .rejected(let why): return .unauthenticated(why, PolicyNote(decision: "unauthenticated", reason: why.description))
                case .authenticated(let a):
                    authenticated = a
                    foundHeader = found.header
                }
            }
        }
        var edits: HeaderEdits?
        if let authenticated {
            var e = HeaderEdits()
            if let header = foundHeader, !authenticated.forwardOriginalToken { e.remove.append(header) }
            for output in authenticated.outputHeaders {
                e.remove.append(output.name)
                e.add.append(output)
            }
            if !e.isEmpty { edits = e }
        }
        guard hasPolicies else {
            let note = authenticated.map {
                PolicyNote(decision: "allow", reason: "allowed: valid token, and no policy applies", requestPrincipal: $0.principal)
            }
            return .allow(target: normalised, edits: edits, note: note)
        }
        var headers: [String: String] = [:]
        if readsHeaders {
            for field in head.fields {
                let name = field.name.lowercased()
                headers[name] = headers[name].map { $0 + "," + field.value } ?? field.value
            }
        }
        let path = String(normalised.prefix { $0 != "?" })
        let request = PolicyRequest(sourcePrincipal: principal, sourceIP: sourceIP, requestPrincipal: authenticated?.principal,
                                    claims: authenticated?.claims ?? [:], host: head.host, port: port,
                                    method: head.method, path: path, headers: headers)
        let decision = engine.evaluate(request, at: workload, inScope: scoped, explain: false)
        let note = PolicyNote(decision: decision.verdict.rawValue, policy: decision.decidedBy?.policy, rule: decision.decidedBy?.rule,
                              reason: decision.reason, dryRun: decision.dryRun, audited: decision.audited.map(\.description),
                              requestPrincipal: authenticated?.principal)
        return decision.verdict == .allow ? .allow(target: normalised, edits: edits, note: note) : .deny(note)
    }
}

extension InboundAuthorization {
    /// A `protocol: tcp` connection, decided once when it opens (after the mTLS handshake, or on
    /// its first plaintext byte): only the caller's principal and address and the port count.
    public func checkConnection(principal: String?, sourceIP: String?) -> (allowed: Bool, note: PolicyNote?) {
        guard hasPolicies else { return (true, nil) }
        let request = PolicyRequest(sourcePrincipal: principal, sourceIP: sourceIP, port: port, method: "", path: "")
        let decision = tcpEngine.evaluate(request, at: workload, inScope: tcpScoped, explain: false)
        let note = PolicyNote(decision: decision.verdict.rawValue, policy: decision.decidedBy?.policy, rule: decision.decidedBy?.rule,
                              reason: decision.reason, dryRun: decision.dryRun, audited: decision.audited.map(\.description))
        return (decision.verdict == .allow, note)
    }
}

/// The authorization a route enforces now. Policy files reload live: a new set replaces the old
/// one atomically, and requests in flight finish under the set they started with.
public final class PolicyGate: Sendable {
    private let box: NIOLockedValueBox<InboundAuthorization>

    public init(_ authorization: InboundAuthorization) {
        box = NIOLockedValueBox(authorization)
    }

    public var current: InboundAuthorization { box.withLockedValue { $0 } }

    public func update(_ authorization: InboundAuthorization) {
        box.withLockedValue { $0 = authorization }
    }
}
