import DevMeshCore

/// What a token's claims must still satisfy once its signature is good, as Envoy's `jwt_authn`
/// checks them: `exp` and `nbf` with 60 s of clock skew, and the rule's `audiences` (when it
/// names any) against the token's `aud`. One place for both the data plane's verified tokens and
/// the claims of `policy test` cases.
public enum TokenClaimsCheck {
    public static let leewaySeconds: Int64 = 60

    public enum Problem: Sendable, Equatable, CustomStringConvertible {
        case expired
        case notYetValid
        case audience([String], expected: [String])

        public var description: String {
            switch self {
            case .expired: return "Jwt is expired"
            case .notYetValid: return "Jwt not yet valid"
            case .audience(let got, let expected): return "Audiences in Jwt are not allowed: \(got) (allowed: \(expected))"
            }
        }
    }

    public static func problem(_ claims: [String: AttributeValue], rule: RequestAuthentication.JWTRule, nowSeconds: Int64) -> Problem? {
        if let exp = seconds(claims["exp"]), exp + leewaySeconds < nowSeconds { return .expired }
        if let nbf = seconds(claims["nbf"]), nbf - leewaySeconds > nowSeconds { return .notYetValid }
        if !rule.audiences.isEmpty {
            let got = audiences(claims)
            guard got.contains(where: rule.audiences.contains) else { return .audience(got, expected: rule.audiences) }
        }
        return nil
    }

    /// `aud`: one string or a list of them.
    public static func audiences(_ claims: [String: AttributeValue]) -> [String] {
        switch claims["aud"] {
        case .string(let s)?: return [s]
        case .array(let a)?: return a.map(\.text)
        default: return []
        }
    }

    /// A NumericDate: whole seconds, as an integer or a (finite) number.
    public static func seconds(_ value: AttributeValue?) -> Int64? {
        switch value {
        case .int(let i)?: return i
        case .double(let d)? where d.isFinite && abs(d) < 9e15: return Int64(d)
        default: return nil
        }
    }
}
