import DevMeshAuth
import DevMeshCore
import DevMeshHTTP1
import NIOConcurrencyHelpers

/// A gateway route's `auth`: who may use the route, checked before the policies (an authn step,
/// as Envoy's filters run). Each answers 401 with a `WWW-Authenticate` challenge naming what it wants.
public enum RouteAuthentication: Sendable {
    case apiKeys(APIKeys)
    case basic(BasicCredentials, realm: String)
    /// `auth: {jwt: ns/name}`: a valid token of that RequestAuthentication's issuers is required
    /// (the gate follows policy reloads).
    case jwt(RouteTokenGate, reference: String)
}

/// The RequestAuthentication a route names, replaced when the policy files reload.
public final class RouteTokenGate: Sendable {
    private let box: NIOLockedValueBox<RequestAuthenticator?>

    public init(_ authenticator: RequestAuthenticator?) {
        box = NIOLockedValueBox(authenticator)
    }

    /// Nil when the RequestAuthentication is gone from the files: every request is refused.
    public var current: RequestAuthenticator? { box.withLockedValue { $0 } }

    public func update(_ authenticator: RequestAuthenticator?) {
        box.withLockedValue { $0 = authenticator }
    }
}

/// Who a route's `auth` found the caller to be.
struct RouteCaller: Equatable {
    enum Kind: Equatable {
        case apiKey
        case basicUser
        /// `iss/sub` of a verified token.
        case tokenSubject
    }

    var kind: Kind
    var name: String
}

/// What a route's `auth` says about a request.
enum RouteAuthVerdict {
    case pass(RouteCaller, edits: HeaderEdits, target: String)
    /// `guess`: a credential was given and is wrong (counted against the client's guessing budget).
    case refuse(status: Int, code: String, message: String, challenge: String, guess: Bool)
    /// A new user/password pair: bcrypt runs off the event loop, then the request starts again.
    case verifyPassword(BasicCredentials, user: String, password: String)
    /// A token whose verdict is not cached: verified off the event loop, then the request starts again.
    case verifyToken(RequestAuthenticator, RequestAuthenticator.FoundToken)
}

/// The outcome of the off-loop step, handed back to the request when it starts again.
enum RouteAuthResult {
    case password(user: String, valid: Bool)
    case token(RequestAuthenticator.Outcome)
}

extension RouteAuthentication {
    static let apiKeyChallenge = "ApiKey realm=\"devmesh\", header=\"X-Api-Key\""

    /// Decides on the event loop when it can; `resumed` carries the result of an off-loop step.
    /// `target` is what the upstream would get; the credential is taken out of what it forwards.
    func evaluate(_ head: HTTP1RequestHead, target: String, resumed: RouteAuthResult?) -> RouteAuthVerdict {
        switch self {
        case .apiKeys(let keys):
            let header = head.fields.first("X-Api-Key")
            let given = header ?? ProxyServerHandler.queryValue(ProxyServerHandler.originForm(head.target), "api_key")
            guard let given else {
                return .refuse(status: 401, code: "api-key-missing", message: "this route needs an API key: send it in `X-Api-Key` (or `?api_key=`)",
                               challenge: Self.apiKeyChallenge, guess: false)
            }
            guard let name = keys.name(of: given) else {
                return .refuse(status: 401, code: "api-key-invalid", message: "the API key is not one of this route's keys",
                               challenge: Self.apiKeyChallenge, guess: true)
            }
            var edits = HeaderEdits()
            edits.remove.append("X-Api-Key")
            edits.add.append(("X-Api-Key-Name", name))
            // The service gets the key's name, never the key: out of the query too.
            let forwarded = header == nil ? ProxyServerHandler.removingQueryParameter("api_key", from: target) : target
            return .pass(RouteCaller(kind: .apiKey, name: name), edits: edits, target: forwarded)

        case .basic(let credentials, let realm):
            let challenge = "Basic realm=\"\(realm)\", charset=\"UTF-8\""
            let user: String
            switch resumed {
            case .password(let u, let valid)?:
                guard valid else {
                    return .refuse(status: 401, code: "basic-invalid", message: "wrong user name or password",
                                   challenge: challenge, guess: true)
                }
                user = u
            default:
                switch credentials.check(authorization: head.fields.first("Authorization")) {
                case .missing:
                    return .refuse(status: 401, code: "basic-missing", message: "this route needs a user name and password (HTTP Basic auth)",
                                   challenge: challenge, guess: false)
                case .malformed(let why):
                    return .refuse(status: 401, code: "basic-invalid", message: why, challenge: challenge, guess: false)
                case .verify(let u, let password):
                    return .verifyPassword(credentials, user: u, password: password)
                case .verified(let u):
                    user = u
                }
            }
            // The service learns who, never the password.
            var edits = HeaderEdits()
            edits.remove.append("Authorization")
            edits.add.append(("X-Auth-User", user))
            return .pass(RouteCaller(kind: .basicUser, name: user), edits: edits, target: target)

        case .jwt(let gate, let reference):
            let challenge = "Bearer realm=\"devmesh\""
            guard let authenticator = gate.current else {
                return .refuse(status: 401, code: "jwt-unavailable",
                               message: "the RequestAuthentication `\(reference)` this route names is not loaded (see `devmesh check`)",
                               challenge: challenge, guess: false)
            }
            let query = target.firstIndex(of: "?").map { target[target.index(after: $0)...] }
            let found: RequestAuthenticator.FoundToken
            switch authenticator.find(fields: head.fields.map { (name: $0.name, value: $0.value) }, query: query) {
            case .none:
                return .refuse(status: 401, code: "jwt-missing",
                               message: "this route needs a token of \(reference)'s issuers: send `Authorization: Bearer <JWT>`",
                               challenge: challenge, guess: false)
            case .rejected(let why):
                return .refuse(status: 401, code: "jwt-invalid", message: why.description, challenge: why.challenge, guess: false)
            case .token(let token):
                found = token
            }
            let outcome: RequestAuthenticator.Outcome
            if case .token(let o)? = resumed {
                outcome = o
            } else if let cached = authenticator.cached(found) {
                outcome = cached
            } else {
                return .verifyToken(authenticator, found)
            }
            switch outcome {
            case .rejected(let why):
                return .refuse(status: 401, code: "jwt-invalid", message: why.description, challenge: why.challenge, guess: false)
            case .authenticated(let a):
                var edits = HeaderEdits()
                if let header = found.header, !a.forwardOriginalToken { edits.remove.append(header) }
                for output in a.outputHeaders {
                    edits.remove.append(output.name)
                    edits.add.append(output)
                }
                return .pass(RouteCaller(kind: .tokenSubject, name: a.principal), edits: edits, target: target)
            }
        }
    }
}
