import Crypto
import CryptoExtras
import Foundation

/// A JWT issuer for tests, independent of the code under test: it signs with swift-crypto
/// directly and serves its keys as a JWKS. It also forges the tokens attackers send
/// (`alg: none`, HS256 keyed with the RSA public key, unknown `kid`).
public struct TestIssuer: Sendable {
    public let issuer: String
    let ecKey: P256.Signing.PrivateKey
    let rsaKey: _RSA.Signing.PrivateKey

    public static let ecKeyID = "ec-1"
    public static let rsaKeyID = "rsa-1"
    /// Prepended to the key ids: a second issuer with other kids (a rotation).
    public let keyIDPrefix: String
    public var ecKeyID: String { keyIDPrefix + Self.ecKeyID }
    public var rsaKeyID: String { keyIDPrefix + Self.rsaKeyID }

    public init(issuer: String = "https://issuer.test", keyIDPrefix: String = "") throws {
        self.issuer = issuer
        self.keyIDPrefix = keyIDPrefix
        ecKey = P256.Signing.PrivateKey()
        rsaKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
    }

    /// The public keys, as an issuer publishes them.
    public var jwks: String {
        let ec = ecKey.publicKey.rawRepresentation
        let rsa = try! rsaKey.publicKey.getKeyPrimitives()
        let keys: [[String: String]] = [
            ["kty": "EC", "crv": "P-256", "kid": ecKeyID, "alg": "ES256", "use": "sig",
             "x": Self.b64(ec.prefix(32)), "y": Self.b64(ec.suffix(32))],
            ["kty": "RSA", "kid": rsaKeyID, "alg": "RS256", "use": "sig",
             "n": Self.b64(rsa.modulus), "e": Self.b64(rsa.publicExponent)],
        ]
        let data = try! JSONSerialization.data(withJSONObject: ["keys": keys], options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    public var rsaPublicKeyPEM: String { rsaKey.publicKey.pemRepresentation }

    /// Claims with this issuer, `sub`, an hour of validity, plus `extra`.
    public func claims(sub: String = "alice", audience: String? = nil, expiresIn: Int = 3600, extra: [String: Any] = [:]) -> [String: Any] {
        let now = Int(Date().timeIntervalSince1970)
        var claims: [String: Any] = ["iss": issuer, "sub": sub, "iat": now, "exp": now + expiresIn]
        if let audience { claims["aud"] = audience }
        for (k, v) in extra { claims[k] = v }
        return claims
    }

    public enum Signing: Sendable {
        case es256
        case rs256
        /// No signature at all.
        case none
        /// HMAC-SHA256 keyed with the RSA public key's PEM: the key-confusion attack.
        case hs256WithRSAPublicKey
    }

    /// A compact JWT. `kid` defaults to the key that signs; pass `.some(nil)` for none.
    public func token(_ claims: [String: Any], signing: Signing = .es256, kid: String?? = .none) throws -> String {
        let alg: String
        let defaultKid: String?
        switch signing {
        case .es256: alg = "ES256"; defaultKid = ecKeyID
        case .rs256: alg = "RS256"; defaultKid = rsaKeyID
        case .none: alg = "none"; defaultKid = nil
        case .hs256WithRSAPublicKey: alg = "HS256"; defaultKid = rsaKeyID
        }
        var header: [String: String] = ["alg": alg, "typ": "JWT"]
        if let k = kid ?? defaultKid { header["kid"] = k }
        let input = Self.b64(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) + "."
            + Self.b64(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let signature: Data
        switch signing {
        case .es256: signature = try ecKey.signature(for: Data(input.utf8)).rawRepresentation
        case .rs256: signature = try rsaKey.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5).rawRepresentation
        case .none: signature = Data()
        case .hs256WithRSAPublicKey:
            let key = SymmetricKey(data: Data(rsaPublicKeyPEM.utf8))
            signature = Data(HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: key))
        }
        return input + "." + Self.b64(signature)
    }

    public static func b64(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
