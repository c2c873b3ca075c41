import Foundation
import JWTKit

/// The public keys of one JWKS document, each in a key collection of its own so that a token's
/// `kid` selects exactly one key (jwt-kit's shared collection falls back to a default key for an
/// unknown `kid`, which Istio does not). The key's type decides the algorithm family: an RSA key
/// never verifies an HS256 token, and `alg: none` is refused before any key is consulted.
public struct JWKSKeys: Sendable {
    struct Key: Sendable {
        let kid: String?
        /// The JWK's own `alg`, when it names one: the token's header must say the same.
        let algorithm: String?
        let keyType: String
        let collection: JWTKeyCollection
    }

    let keys: [Key]
    /// Keys of the document that cannot verify anything (private parts, symmetric or unknown types).
    public let skipped: [String]

    public var count: Int { keys.count }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses a JWKS document (`{"keys": [...]}`); a document without one usable public key is an error.
    public static func parse(_ json: String) async throws(Invalid) -> JWKSKeys {
        guard json.utf8.count <= 1 << 20 else { throw Invalid(description: "the JWKS is larger than 1 MiB") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw Invalid(description: "the JWKS is not a JSON object")
        }
        guard let list = object["keys"] as? [[String: Any]] else {
            throw Invalid(description: "the JWKS has no `keys` list")
        }
        var keys: [Key] = []
        var skipped: [String] = []
        for (i, raw) in list.enumerated() {
            let kid = raw["kid"] as? String
            let label = kid.map { "key `\($0)`" } ?? "key \(i + 1)"
            let kty = raw["kty"] as? String ?? ""
            guard ["RSA", "EC", "OKP"].contains(kty) else {
                skipped.append("\(label): key type `\(kty)` is not supported (RSA, EC and OKP public keys are)")
                continue
            }
            if raw["d"] != nil {
                skipped.append("\(label): a JWKS for verification must not hold private keys")
                continue
            }
            var entry = raw
            // jwt-kit files keys by `kid`; a key without one gets a name of its own here.
            entry["kid"] = kid ?? "#\(i + 1)"
            do {
                let data = try JSONSerialization.data(withJSONObject: entry)
                let jwk = try JSONDecoder().decode(JWK.self, from: data)
                let collection = JWTKeyCollection()
                try await collection.add(jwk: jwk, isDefault: true)
                keys.append(Key(kid: kid, algorithm: raw["alg"] as? String, keyType: kty, collection: collection))
            } catch {
                skipped.append("\(label): \(error)")
            }
        }
        guard !keys.isEmpty else {
            throw Invalid(description: "the JWKS has no usable public key" + (skipped.isEmpty ? "" : " (" + skipped.joined(separator: "; ") + ")"))
        }
        return JWKSKeys(keys: keys, skipped: skipped)
    }

    /// The algorithms a key of each type may verify.
    static func family(of keyType: String) -> Set<String> {
        switch keyType {
        case "RSA": return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        case "EC": return ["ES256", "ES384", "ES512"]
        case "OKP": return ["EdDSA"]
        default: return []
        }
    }

    /// The keys that may verify a token with this header: by `kid` when the token names one
    /// (an unknown `kid` is an error), else every key of the token's algorithm family.
    func candidates(kid: String?, algorithm: String) -> Result<[Key], JWTRejection> {
        let usable = keys.filter { Self.family(of: $0.keyType).contains(algorithm) && ($0.algorithm == nil || $0.algorithm == algorithm) }
        if let kid {
            guard let key = keys.first(where: { $0.kid == kid }) else { return .failure(.unknownKeyID(kid)) }
            guard usable.contains(where: { $0.kid == kid }) else {
                return .failure(.algorithmMismatch(algorithm, key: key.algorithm ?? key.keyType))
            }
            return .success([key])
        }
        guard !usable.isEmpty else {
            return .failure(.algorithmMismatch(algorithm, key: Set(keys.map { $0.algorithm ?? $0.keyType }).sorted().joined(separator: ", ")))
        }
        return .success(usable)
    }
}
