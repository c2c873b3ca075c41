import Crypto
import Foundation
import X509

/// devmesh's local certificate authority: one ECDSA P-256 root per user, shared by all stacks,
/// kept in `$DEVMESH_HOME/ca` (`ca.pem` 0644, `ca-key.pem` 0600, folder 0700).
///
/// It signs short-lived leaves in memory: server certificates for the gateway's host names and
/// workload certificates carrying a SPIFFE identity for mTLS between sidecars. The private key
/// is never logged, printed or exposed by this type's API.
///
/// Immutable after loading, hence `Sendable`; signing only reads the key.
public final class CertificateAuthority: Sendable {
    /// File names inside the CA folder (`devmesh ca path` prints ``certificatePath``).
    public static let certificateFileName = "ca.pem"
    public static let keyFileName = "ca-key.pem"
    static let lockFileName = "ca.lock"

    /// The root certificate.
    public let certificate: Certificate
    /// The root certificate in PEM, as written to ``certificatePath``.
    public let certificatePEM: String
    /// `<directory>/ca.pem` (empty for an in-memory test CA).
    public let certificatePath: String
    /// `<directory>/ca-key.pem` (empty for an in-memory test CA).
    public let keyPath: String
    /// SHA-256 of the DER certificate, upper-case hex pairs joined by `:` (as `openssl x509 -fingerprint -sha256`).
    public let fingerprintSHA256: String
    /// The key identifier leaves name in their authorityKeyIdentifier.
    let keyIdentifier: ArraySlice<UInt8>
    let privateKey: P256.Signing.PrivateKey

    /// The subject, e.g. `CN=devmesh local CA (ana@laptop),O=devmesh`.
    public var subjectSummary: String { certificate.subject.description }
    /// When the root expires (10 years after creation).
    public var notAfter: Date { certificate.notValidAfter }

    init(certificate: Certificate, privateKey: P256.Signing.PrivateKey, certificatePath: String, keyPath: String) throws {
        self.certificate = certificate
        self.privateKey = privateKey
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.certificatePEM = try certificate.serializeAsPEM().pemString
        let der = try certificate.derBytes()
        self.fingerprintSHA256 = SHA256.hash(data: der).map { Self.hexByte($0) }.joined(separator: ":")
        // A CA file written by another tool may lack the extension; RFC 5280's SHA-1 method
        // gives the same value devmesh itself writes.
        self.keyIdentifier =
            (try? certificate.extensions.subjectKeyIdentifier)?.keyIdentifier
            ?? SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
