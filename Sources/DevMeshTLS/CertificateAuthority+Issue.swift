import Crypto
import DevMeshCore
import Foundation
import SwiftASN1
import X509

// MARK: - Leaf issuance

extension CertificateAuthority {
    /// The default leaf lifetime: short, so a leaked key is useless soon; renewal is automatic.
    public static let defaultLeafValidity: Duration = .seconds(24 * 3600)

    /// A server certificate for the gateway: a fresh P-256 key, a SAN per host (dNSName for
    /// names, iPAddress for IP literals such as `127.0.0.1`, `::1` or `[::1]`), EKU serverAuth,
    /// CN = the first host. CPU-bound (key generation and signing): keep it off event loops.
    public func issueServer(
        hosts: [String], validity: Duration = CertificateAuthority.defaultLeafValidity, now: Date = Date()
    ) throws -> IssuedCertificate {
        var parsed: [CertificateHost] = []
        for host in hosts {
            let candidate = try CertificateHost(parsing: host)
            if !parsed.contains(candidate) { parsed.append(candidate) }
        }
        guard let first = parsed.first else { throw IssuanceError.noHosts }
        let names: [GeneralName] = parsed.map {
            switch $0 {
            case .dnsName(let name): return .dnsName(name)
            case .ipAddress(let bytes, _): return .ipAddress(ASN1OctetString(contentBytes: bytes[...]))
            }
        }
        let commonName = first.description
        let subject = try DistinguishedName {
            OrganizationName("devmesh")
            // CN is informational (clients match SANs) and limited to 64 characters.
            if commonName.count <= 64 { CommonName(commonName) }
        }
        return try issueLeaf(
            subject: subject, subjectAlternativeNames: names, extendedKeyUsages: [.serverAuth],
            validity: validity, now: now)
    }

    /// A workload certificate (an X.509-SVID): the identity as its only SAN, a URI; EKU
    /// serverAuth + clientAuth, as each sidecar is both. Like Istio's, the subject is empty and
    /// the SAN extension critical (RFC 5280 4.2.1.6 requires that pairing).
    public func issueWorkload(
        _ id: SPIFFEID, validity: Duration = CertificateAuthority.defaultLeafValidity, now: Date = Date()
    ) throws -> IssuedCertificate {
        guard id.isValid else { throw IssuanceError.invalidIdentity(id) }
        return try issueLeaf(
            subject: DistinguishedName(), subjectAlternativeNames: [.uniformResourceIdentifier(id.uri)],
            extendedKeyUsages: [.serverAuth, .clientAuth], validity: validity, now: now)
    }

    /// Signs a leaf with any SANs: the common path of the two issuers above, and in tests the way
    /// to make certificates devmesh itself never would (two URI SANs, say).
    @_spi(Testing)
    public func issueLeaf(
        subject: DistinguishedName,
        subjectAlternativeNames: [GeneralName],
        extendedKeyUsages: [ExtendedKeyUsage.Usage],
        validity: Duration,
        now: Date
    ) throws -> IssuedCertificate {
        let seconds = TimeInterval(validity.components.seconds) + TimeInterval(validity.components.attoseconds) / 1e18
        guard seconds > 0 else { throw IssuanceError.invalidValidity }
        guard now < notAfter else { throw IssuanceError.authorityExpired(notAfter: notAfter) }

        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        var extensions = Certificate.Extensions()
        try extensions.append(Critical(BasicConstraints.notCertificateAuthority).makeCertificateExtension())
        try extensions.append(Critical(KeyUsage(digitalSignature: true)).makeCertificateExtension())
        try extensions.append(ExtendedKeyUsage(extendedKeyUsages).makeCertificateExtension())
        try extensions.append(SubjectKeyIdentifier(hash: publicKey).makeCertificateExtension())
        try extensions.append(AuthorityKeyIdentifier(keyIdentifier: keyIdentifier).makeCertificateExtension())
        let sans = SubjectAlternativeNames(subjectAlternativeNames)
        try extensions.append(Certificate.Extension(sans, critical: subject.isEmpty))

        let leaf = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now - Self.clockSkewAllowance,
            // Never outlive the CA: a chain is only as valid as its root.
            notValidAfter: min(now + seconds, notAfter),
            issuer: certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(privateKey)
        )
        return IssuedCertificate(leaf: leaf, issuer: certificate, privateKey: key)
    }
}
