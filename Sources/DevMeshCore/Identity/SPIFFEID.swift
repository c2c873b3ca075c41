/// A workload identity in Istio's SPIFFE form: `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
///
/// devmesh gives every service the identity `spiffe://cluster.local/ns/<namespace>/sa/<service>`;
/// it is the URI SAN of the service's certificate and, as ``principal``, the `source.principal`
/// that authorization policies match.
///
/// Parsing is deliberately strict (no percent-encoding, no empty or extra segments, no query or
/// fragment): two spellings of the same identity would let a policy written for one be bypassed
/// by the other.
public struct SPIFFEID: Sendable, Hashable, CustomStringConvertible {
    /// The trust domain, e.g. `cluster.local`.
    public let trustDomain: String
    /// The Kubernetes-style namespace of the workload.
    public let namespace: String
    /// The service account, in devmesh the service name.
    public let serviceAccount: String

    /// The default trust domain, as in Istio.
    public static let defaultTrustDomain = "cluster.local"

    /// Builds an identity from its parts without validating them; use ``isValid`` (or the
    /// certificate authority, which refuses invalid identities) before trusting the result.
    public init(trustDomain: String = SPIFFEID.defaultTrustDomain, namespace: String, serviceAccount: String) {
        self.trustDomain = trustDomain
        self.namespace = namespace
        self.serviceAccount = serviceAccount
    }

    /// Parses `spiffe://<td>/ns/<ns>/sa/<sa>` exactly; anything else is `nil`.
    public init?(uri: String) {
        let scheme = "spiffe://"
        guard uri.hasPrefix(scheme) else { return nil }
        // Split on "/" keeping empty pieces, so "a//b" and a trailing "/" are rejected below.
        let parts = uri.dropFirst(scheme.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa" else { return nil }
        let id = SPIFFEID(trustDomain: String(parts[0]), namespace: String(parts[2]), serviceAccount: String(parts[4]))
        guard id.isValid else { return nil }
        self = id
    }

    /// `spiffe://<td>/ns/<ns>/sa/<sa>`.
    public var uri: String { "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }

    /// `<td>/ns/<ns>/sa/<sa>`: Istio's `source.principal` form, what policies name.
    public var principal: String { "\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }

    public var description: String { uri }

    /// Whether every part uses only the characters the SPIFFE spec allows, so ``uri`` parses
    /// back to this same value.
    public var isValid: Bool {
        Self.isValidTrustDomain(trustDomain)
            && Self.isValidSegment(namespace)
            && Self.isValidSegment(serviceAccount)
    }

    // MARK: - Character rules (SPIFFE ID spec, sections 2.1 and 2.2)

    /// Trust domain: lower-case letters, digits, `.`, `-`, `_`; at most 255 bytes.
    static func isValidTrustDomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 255 else { return false }
        return s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-" || $0 == "_" }
    }

    /// Path segment: letters, digits, `.`, `-`, `_`; not `.` or `..`. `%` is outside the set,
    /// which is what rules out percent-encoding.
    static func isValidSegment(_ s: String) -> Bool {
        guard !s.isEmpty, s != ".", s != "..", s.utf8.count <= 255 else { return false }
        return s.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || $0 == "." || $0 == "-" || $0 == "_"
        }
    }
}
