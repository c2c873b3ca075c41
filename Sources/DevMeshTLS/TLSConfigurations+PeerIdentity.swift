import DevMeshCore
import NIOCore
import NIOSSL
import X509

// MARK: - The peer's SPIFFE identity, after an mTLS handshake

extension TLSConfigurations {
    /// The SPIFFE identity of a certificate: its only URI SAN, if that is a devmesh-form SPIFFE ID.
    ///
    /// `nil` when there is no URI SAN, more than one (an X.509-SVID has exactly one, and two
    /// would make "who is calling" ambiguous), or it does not parse. This does not verify the
    /// chain: pass only a certificate the TLS handshake verified.
    public static func peerIdentity(_ certificate: NIOSSLCertificate) -> SPIFFEID? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { return nil }
        return peerIdentity(parsed)
    }

    /// ``peerIdentity(_:)-(NIOSSLCertificate)`` for an already parsed certificate.
    public static func peerIdentity(_ certificate: Certificate) -> SPIFFEID? {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return nil }
        let uris = names.compactMap { name -> String? in
            if case .uniformResourceIdentifier(let uri) = name { return uri }
            return nil
        }
        guard uris.count == 1 else { return nil }
        return SPIFFEID(uri: uris[0])
    }

    /// The identity of the peer of the channel whose pipeline this is, once its `NIOSSLHandler`
    /// has completed the handshake (for example on `TLSUserEvent.handshakeCompleted`). Call on
    /// the channel's event loop. `nil` when the peer sent no certificate or it carries no identity.
    public static func peerIdentity(in pipeline: ChannelPipeline.SynchronousOperations) throws -> SPIFFEID? {
        try pipeline.nioSSL_peerCertificate().flatMap { peerIdentity($0) }
    }

    /// ``peerIdentity(in:)`` from any thread.
    public static func peerIdentity(of channel: any Channel) -> EventLoopFuture<SPIFFEID?> {
        channel.nioSSL_peerCertificate().map { $0.flatMap { peerIdentity($0) } }
    }
}
