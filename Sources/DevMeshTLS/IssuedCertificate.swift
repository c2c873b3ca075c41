import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A leaf certificate the local CA issued, with its private key. Lives in memory only.
public struct IssuedCertificate: Sendable {
    /// The leaf first, then the CA certificate.
    public let chain: [Certificate]
    /// The leaf's key; never written to disk or logged.
    public let privateKey: P256.Signing.PrivateKey

    /// The leaf certificate, `chain[0]`.
    public let leaf: Certificate
    public var notBefore: Date { leaf.notValidBefore }
    public var notAfter: Date { leaf.notValidAfter }

    // Internal: only the CA makes these, so the chain always starts with the leaf.
    init(leaf: Certificate, issuer: Certificate, privateKey: P256.Signing.PrivateKey) {
        self.leaf = leaf
        self.chain = [leaf, issuer]
        self.privateKey = privateKey
    }

    /// Whether to replace this certificate: less than a third of its lifetime is left (a
    /// 24-hour certificate is renewed after 16 hours), or it is not valid yet.
    public func shouldRenew(now: Date) -> Bool {
        let lifetime = notAfter.timeIntervalSince(notBefore)
        return now < notBefore || notAfter.timeIntervalSince(now) < lifetime / 3
    }

    /// The chain in NIOSSL's form, for `TLSConfiguration.certificateChain`.
    public func nioChain() throws -> [NIOSSLCertificate] {
        try chain.map { try NIOSSLCertificate(bytes: $0.derBytes(), format: .der) }
    }

    /// The key in NIOSSL's form, for `TLSConfiguration.privateKey`.
    public func nioKey() throws -> NIOSSLPrivateKey {
        try NIOSSLPrivateKey(bytes: Array(privateKey.derRepresentation), format: .der)
    }
}

extension Certificate {
    /// The DER encoding, the form NIOSSL and fingerprints take.
    func derBytes() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
    }
}
