import Foundation
import DevMeshCore

/// Why the CA refused to issue a leaf.
public enum IssuanceError: Error, Equatable, CustomStringConvertible {
    /// `issueServer` was given no host names.
    case noHosts
    /// The identity has characters SPIFFE does not allow, so its URI would not parse back to it.
    case invalidIdentity(SPIFFEID)
    /// The CA itself has expired; nothing it signs would verify.
    case authorityExpired(notAfter: Date)
    /// The requested validity is zero or negative.
    case invalidValidity
    /// A valid host name the store's allow-list does not serve (the gateway decides which).
    case hostNotServed(String)

    public var description: String {
        switch self {
        case .noHosts:
            return "cannot issue a server certificate without host names"
        case .invalidIdentity(let id):
            return "cannot issue a workload certificate for \"\(id.uri)\": namespace and service account may use"
                + " only letters, digits, '.', '-' and '_'"
        case .authorityExpired(let notAfter):
            return "the devmesh CA expired at \(notAfter); delete its folder to create a new one"
        case .invalidValidity:
            return "a certificate's validity must be positive"
        case .hostNotServed(let host):
            return "devmesh does not serve \"\(host)\", so it issues no certificate for it"
        }
    }
}
