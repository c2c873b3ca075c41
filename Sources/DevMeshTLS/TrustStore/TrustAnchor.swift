import Foundation

/// What a trust store needs to know about the devmesh CA: its certificate file and text, and the
/// fingerprint that names it in NSS databases.
public struct TrustAnchor: Sendable, Equatable {
    /// The CA certificate (PEM) on disk, as `devmesh ca path` prints it.
    public var certificatePath: String
    /// The same certificate as PEM text.
    public var pem: String
    /// SHA-256 of the certificate (hex, any separators).
    public var fingerprintSHA256: String

    public init(certificatePath: String, pem: String, fingerprintSHA256: String) {
        self.certificatePath = certificatePath
        self.pem = pem
        self.fingerprintSHA256 = fingerprintSHA256
    }

    /// The file name of the CA in the system stores that take a folder of certificates.
    public static let systemFileName = "devmesh-local-ca"

    /// The nickname in NSS databases: `devmesh local CA <first 16 hex digits of the fingerprint>`,
    /// so a new CA never takes an old one's place unnoticed.
    public var nssNickname: String {
        let hex = fingerprintSHA256.lowercased().filter { $0.isHexDigit }
        return "devmesh local CA " + String(hex.prefix(16))
    }

    /// The PEM block without surrounding whitespace: what a bundle contains when it trusts this CA.
    var pemBlock: String { pem.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Whether `bundle` (a PEM bundle's text) contains this certificate.
    func isContained(in bundle: String) -> Bool {
        !pemBlock.isEmpty && bundle.contains(pemBlock)
    }
}

extension TrustAnchor {
    /// The anchor of a loaded devmesh CA.
    public init(_ ca: CertificateAuthority) {
        self.init(certificatePath: ca.certificatePath, pem: ca.certificatePEM, fingerprintSHA256: ca.fingerprintSHA256)
    }
}
