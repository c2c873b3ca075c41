/// Why a token was refused (401). The description is what the client and the access log see.
public enum JWTRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case algorithmNone
    case unknownIssuer(String?)
    case unknownKeyID(String)
    case algorithmMismatch(String, key: String)
    case badSignature
    case expired
    case notYetValid
    case audience([String], expected: [String])
    case keysUnavailable(String)
    case multipleTokens

    public var description: String {
        switch self {
        case .malformed(let why): return "Jwt is not in the form of Header.Payload.Signature: \(why)"
        case .algorithmNone: return "Jwt uses `alg: none`; unsigned tokens are never accepted"
        case .unknownIssuer(let iss?): return "Jwt issuer is not configured: `\(iss)`"
        case .unknownIssuer(nil): return "Jwt has no `iss` claim"
        case .unknownKeyID(let kid): return "Jwt verification fails: no key `\(kid)` in the issuer's JWKS"
        case .algorithmMismatch(let alg, let key): return "Jwt verification fails: `\(alg)` cannot be verified with the issuer's key (\(key))"
        case .badSignature: return "Jwt verification fails"
        case .expired: return "Jwt is expired"
        case .notYetValid: return "Jwt not yet valid"
        case .audience(let got, let expected):
            return "Audiences in Jwt are not allowed: \(got) (allowed: \(expected))"
        case .keysUnavailable(let why): return "Jwks remote fetch is failed: \(why)"
        case .multipleTokens: return "more than one Jwt in the request"
        }
    }

    /// The RFC 6750 `error_description` for `WWW-Authenticate`.
    public var challenge: String {
        "Bearer realm=\"devmesh\", error=\"invalid_token\", error_description=\"" + description.replacingOccurrences(of: "\"", with: "'") + "\""
    }
}
