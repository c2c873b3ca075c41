import DevMeshCore
@_spi(Testing) import DevMeshTLS
import Foundation
import NIOSSL
import SwiftASN1
import Testing
import X509

@Suite("HTTPS edge, over 127.0.0.1")
struct EdgeHandshakeTests {
    let ca: CertificateAuthority
    let store: DevMeshTLS.CertificateStore

    init() throws {
        ca = try CertificateAuthority.ephemeral()
        // The gateway serves *.localhost names it routes; here: everything under .localhost.
        store = DevMeshTLS.CertificateStore(authority: ca, servesHost: { $0.hasSuffix(".localhost") })
    }

    private func edge() async throws -> NIOSSLContext {
        try await TLSConfigurations.edgeServer(store: store, defaultHosts: ["shop.localhost"])
    }

    private func client(
        alpn: [String] = ["h2", "http/1.1"],
        verification: CertificateVerification = .fullVerification,
        minimum: TLSVersion = .tlsv12,
        maximum: TLSVersion? = nil,
        cipherSuites: String? = nil
    ) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try ca.nioCertificate()])
        configuration.certificateVerification = verification
        configuration.applicationProtocols = alpn
        configuration.minimumTLSVersion = minimum
        configuration.maximumTLSVersion = maximum
        if let cipherSuites { configuration.cipherSuites = cipherSuites }
        return try NIOSSLContext(configuration: configuration)
    }

    /// The server certificate's SANs as text: DNS names as they are, IPs as "ip:<bytes>".
    private func names(_ outcome: HandshakeOutcome?) throws -> [String] {
        let nio = try #require(outcome?.peerCertificate)
        let certificate = try Certificate(derEncoded: try nio.toDERBytes())
        return try #require(try certificate.extensions.subjectAlternativeNames).map {
            switch $0 {
            case .dnsName(let name): return name
            case .ipAddress(let bytes): return "ip:" + bytes.bytes.map(String.init).joined(separator: ".")
            default: return "\($0)"
            }
        }
    }

    private let defaultNames = ["localhost", "ip:127.0.0.1", "ip:0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1", "shop.localhost"]

    @Test("SNI users.localhost gets a certificate for exactly users.localhost, verified by host name")
    func sniGetsExactHost() async throws {
        let (clientSide, _) = try await withTLSServer(context: edge()) {
            try await handshake(server: $0, client: client(), serverHostname: "users.localhost")
        }
        #expect(clientSide?.succeeded == true, "\(String(describing: clientSide))")
        #expect(try names(clientSide) == ["users.localhost"])
    }

    @Test("no SNI, SNI in the default set, or SNI the gateway does not serve: the default certificate")
    func defaultCertificate() async throws {
        let context = try await edge()
        for hostname: String? in [nil, "localhost", "shop.localhost", "example.com"] {
            let (clientSide, _) = try await withTLSServer(context: context) {
                try await handshake(server: $0, client: client(verification: .noHostnameVerification), serverHostname: hostname)
            }
            #expect(clientSide?.succeeded == true, "\(hostname ?? "no SNI"): \(String(describing: clientSide))")
            #expect(try names(clientSide) == defaultNames, "\(hostname ?? "no SNI")")
        }
    }

    @Test("ALPN negotiates h2 when offered, http/1.1 otherwise")
    func alpn() async throws {
        let context = try await edge()
        let h2 = try await withTLSServer(context: context) {
            try await handshake(server: $0, client: client(), serverHostname: "localhost")
        }
        #expect(h2.client?.alpn == "h2")
        #expect(h2.server?.alpn == "h2")
        let http1 = try await withTLSServer(context: context) {
            try await handshake(server: $0, client: client(alpn: ["http/1.1"]), serverHostname: "localhost")
        }
        #expect(http1.client?.alpn == "http/1.1")
    }

    @Test("a client limited to TLS 1.1 is refused (and would work where TLS 1.1 is allowed)")
    func refusesTLS11() async throws {
        let old = try client(verification: .noHostnameVerification, minimum: .tlsv1, maximum: .tlsv11)
        try await expectRefusedByEdge(old, acceptedBy: permissiveServer(minimum: .tlsv1, cipherSuites: "ECDHE-ECDSA-AES128-SHA"))
    }

    @Test("a client offering only a non-AEAD suite is refused (and would work where CBC is allowed)")
    func refusesNonAEAD() async throws {
        let cbc = try client(verification: .noHostnameVerification, maximum: .tlsv12, cipherSuites: "ECDHE-ECDSA-AES128-SHA256")
        try await expectRefusedByEdge(cbc, acceptedBy: permissiveServer(minimum: .tlsv12, cipherSuites: "ECDHE-ECDSA-AES128-SHA256"))
    }

    /// The edge refuses `client`, while `control` (an old-policy server) accepts it: so the
    /// refusal is the edge's policy and not a client that cannot connect anywhere.
    private func expectRefusedByEdge(_ client: NIOSSLContext, acceptedBy control: NIOSSLContext) async throws {
        let refused = try await withTLSServer(context: edge()) {
            try await handshake(server: $0, client: client, serverHostname: "localhost")
        }
        #expect(refused.client?.succeeded == false, "\(String(describing: refused.client))")
        #expect(refused.server?.succeeded == false)
        let accepted = try await withTLSServer(context: control) {
            try await handshake(server: $0, client: client, serverHostname: "localhost")
        }
        #expect(accepted.client?.succeeded == true, "\(String(describing: accepted.client))")
    }

    @Test("a renewed default certificate is served without rebuilding the context")
    func servesRenewedDefault() async throws {
        let clock = ManualClock(Date())
        let store = DevMeshTLS.CertificateStore(authority: ca, now: { clock.now })
        let context = try await TLSConfigurations.edgeServer(store: store)
        // The renewed leaf is dated by the injected clock, 17 h ahead of the real one, so this
        // client skips verification; it only looks at which certificate it was shown.
        let unverified = try client(verification: .none)
        let before = try await withTLSServer(context: context) {
            try await handshake(server: $0, client: unverified, serverHostname: "localhost").client
        }
        clock.advance(by: 17 * 3600)
        let after = try await withTLSServer(context: context) {
            try await handshake(server: $0, client: unverified, serverHostname: "localhost").client
        }
        let first = try #require(before?.peerCertificate)
        let second = try #require(after?.peerCertificate)
        #expect(first != second)
    }

    /// A server with the devmesh leaf but an old policy, as the control of the refusal tests.
    private func permissiveServer(minimum: TLSVersion, cipherSuites: String) throws -> NIOSSLContext {
        let leaf = try ca.issueServer(hosts: ["localhost"])
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try leaf.nioChain().map { .certificate($0) }, privateKey: .privateKey(try leaf.nioKey()))
        configuration.minimumTLSVersion = minimum
        configuration.cipherSuites = cipherSuites
        return try NIOSSLContext(configuration: configuration)
    }
}
