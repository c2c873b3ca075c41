import DevMeshCore
import NIOCore
import NIOSSL

/// The TLS set-ups of devmesh, each a ready `NIOSSLContext`. Build a context once and share it:
/// a context is thread-safe and costly to build, a handler per connection is cheap.
public enum TLSConfigurations {
    /// TLS 1.2 suites: ECDHE (forward secrecy) with AEAD only, for the ECDSA keys devmesh issues.
    /// TLS 1.3 suites are all AEAD and BoringSSL does not let them be configured.
    public static let cipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// The names in the gateway's default certificate, before configured hosts.
    public static let loopbackHosts = ["localhost", "127.0.0.1", "::1"]

    // MARK: - Edge (HTTPS gateway)

    /// The HTTPS gateway's context: TLS 1.2+, AEAD suites, ALPN `h2` then `http/1.1`.
    ///
    /// Clients without SNI, or naming a host in the default set, get the default certificate
    /// (`localhost`, `127.0.0.1`, `::1` and `defaultHosts`). Any other name the store serves
    /// (see ``CertificateStore/servedHost(_:)``) gets a certificate for exactly that name,
    /// issued on first use off the event loop; names it does not serve get the default one.
    /// The callback runs on every handshake and always asks the store, so renewed leaves are
    /// picked up without rebuilding the context.
    public static func edgeServer(store: CertificateStore, defaultHosts: [String] = []) async throws -> NIOSSLContext {
        let defaultNames = loopbackHosts + defaultHosts
        let initial = try await store.leaf(for: .hosts(canonicalHosts(defaultNames)))
        let defaultSet = Set(try canonicalHosts(defaultNames))

        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: initial.certificateChain.map { .certificate($0) },
            privateKey: .privateKey(initial.privateKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = cipherSuites
        configuration.applicationProtocols = ["h2", "http/1.1"]
        configuration.sslContextCallback = { values, promise in
            let eventLoop = promise.futureResult.eventLoop
            let leaf: EventLoopFuture<CertificateStore.Leaf>
            if let requested = values.serverHostname, let host = store.servedHost(requested), !defaultSet.contains(host) {
                leaf = store.serverLeaf(forHost: host, on: eventLoop)
            } else {
                leaf = store.serverLeaf(forHosts: defaultNames, on: eventLoop)
            }
            leaf.map(\.configurationOverride).cascade(to: promise)
        }
        return try NIOSSLContext(configuration: configuration)
    }

    private static func canonicalHosts(_ hosts: [String]) throws -> [String] {
        var names: [String] = []
        for host in hosts {
            let name = try CertificateHost(parsing: host).description
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    // MARK: - Mesh (mTLS between sidecars)

    /// An inbound sidecar's context: presents `identity`, requires a client certificate that
    /// chains to the devmesh CA (and only to it), TLS 1.2+ (1.3 when the peer has it), ALPN
    /// `http/1.1`. There is no host name to verify on a server; the caller reads the client's
    /// SPIFFE identity with ``peerIdentity(_:)`` after the handshake.
    public static func meshServer(identity: IssuedCertificate, ca: CertificateAuthority) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: try identity.nioChain().map { .certificate($0) },
            privateKey: .privateKey(try identity.nioKey()),
            trustRoots: .certificates([try ca.nioCertificate()])
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = cipherSuites
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    /// An egress sidecar's context: presents `identity`, trusts only the devmesh CA, and does
    /// not verify a host name (the peer is `127.0.0.1`). Which workload answered is checked by
    /// the caller after the handshake with ``peerIdentity(_:)``: a valid devmesh certificate
    /// alone only proves "some workload of this mesh".
    public static func meshClient(identity: IssuedCertificate, ca: CertificateAuthority) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = try identity.nioChain().map { .certificate($0) }
        configuration.privateKey = .privateKey(try identity.nioKey())
        configuration.trustRoots = .certificates([try ca.nioCertificate()])
        configuration.certificateVerification = .noHostnameVerification
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = cipherSuites
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }
}

extension CertificateAuthority {
    /// The root in NIOSSL's form, for trust roots.
    public func nioCertificate() throws -> NIOSSLCertificate {
        try NIOSSLCertificate(bytes: certificate.derBytes(), format: .der)
    }
}
