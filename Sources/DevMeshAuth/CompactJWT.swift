import DevMeshCore
import Foundation

/// A compact-serialised JWT split into its parts, with the header and the (not yet trusted)
/// claims decoded: enough to pick the rule and the key before any signature is checked.
struct CompactJWT: Sendable {
    let token: String
    let algorithm: String
    let keyID: String?
    /// Unverified: only used to find the JWT rule whose issuer this token claims.
    let claimedIssuer: String?

    /// Tokens longer than this are refused before any decoding (Envoy's header limits are of this order).
    static let maxLength = 16 * 1024

    enum Malformed: Error, CustomStringConvertible {
        case tooLong, notThreeParts, badHeader, badPayload

        var description: String {
            switch self {
            case .tooLong: return "the token is longer than \(CompactJWT.maxLength) bytes"
            case .notThreeParts: return "a JWT has three base64url parts separated by dots"
            case .badHeader: return "the token's header is not base64url JSON with an `alg`"
            case .badPayload: return "the token's payload is not base64url JSON"
            }
        }
    }

    init(_ token: String) throws(Malformed) {
        guard token.utf8.count <= Self.maxLength else { throw .tooLong }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw .notThreeParts }
        guard let headerData = Self.base64URLDecode(parts[0]),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
              let alg = header["alg"] as? String
        else { throw .badHeader }
        guard let payloadData = Self.base64URLDecode(parts[1]),
              let payload = try? JSONSerialization.jsonObject(with: payloadData) as? [String: Any]
        else { throw .badPayload }
        self.token = token
        algorithm = alg
        keyID = header["kid"] as? String
        claimedIssuer = payload["iss"] as? String
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !s.contains("=") || s.count % 4 == 0 else { return nil }
        while s.count % 4 != 0 { s.append("=") }
        return Data(base64Encoded: s)
    }
}
