import DevMeshCore
@_spi(Testing) import DevMeshTLS
import Foundation
import NIOSSL
import Testing

@Suite("mTLS between sidecars, over 127.0.0.1")
struct MeshHandshakeTests {
    let ca: CertificateAuthority
    let users = SPIFFEID(namespace: "default", serviceAccount: "users")
    let orders = SPIFFEID(namespace: "default", serviceAccount: "orders")

    init() throws {
        ca = try CertificateAuthority.ephemeral()
    }

    /// The context of an inbound sidecar for `users`.
    private func inbound() throws -> NIOSSLContext {
        try TLSConfigurations.meshServer(identity: ca.issueWorkload(users), ca: ca)
    }

    /// What the server saw when `client` connected to a `users` inbound sidecar.
    private func serverOutcome(client: NIOSSLContext) async throws -> HandshakeOutcome? {
        try await withTLSServer(context: inbound()) { try await handshake(server: $0, client: client).server }
    }

    @Test("mutual TLS succeeds and each side sees the other's SPIFFE identity")
    func succeeds() async throws {
        let client = try TLSConfigurations.meshClient(identity: ca.issueWorkload(orders), ca: ca)
        let (clientSide, serverSide) = try await withTLSServer(context: inbound()) {
            try await handshake(server: $0, client: client)
        }
        #expect(serverSide?.succeeded == true, "\(String(describing: serverSide))")
        #expect(serverSide?.peerIdentity == orders)
        #expect(serverSide?.alpn == "http/1.1")
        #expect(clientSide?.succeeded == true, "\(String(describing: clientSide))")
        #expect(clientSide?.peerIdentity == users)
        #expect(clientSide?.peerCertificate.flatMap { TLSConfigurations.peerIdentity($0) } == users)
    }

    @Test("contexts from the store work the same way")
    func storeContexts() async throws {
        let store = CertificateStore(authority: ca)
        let client = try await store.meshClientContext(for: orders)
        let (clientSide, serverSide) = try await withTLSServer(context: store.meshServerContext(for: users)) {
            try await handshake(server: $0, client: client)
        }
        #expect(serverSide?.peerIdentity == orders)
        #expect(clientSide?.peerIdentity == users)
    }

    @Test("a client without a certificate is refused")
    func noClientCertificate() async throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try ca.nioCertificate()])
        configuration.certificateVerification = .noHostnameVerification
        let outcome = try await serverOutcome(client: NIOSSLContext(configuration: configuration))
        #expect(outcome != nil)
        #expect(outcome?.succeeded == false, "\(String(describing: outcome))")
    }

    @Test("a client certificate from a foreign CA is refused")
    func foreignCA() async throws {
        let foreign = try CertificateAuthority.ephemeral(owner: "mallory@elsewhere")
        // The client trusts our CA (so its side completes) but presents a foreign leaf with the right identity.
        let outcome = try await serverOutcome(
            client: TLSConfigurations.meshClient(identity: foreign.issueWorkload(orders), ca: ca))
        #expect(outcome != nil)
        #expect(outcome?.succeeded == false, "\(String(describing: outcome))")
    }

    @Test("an expired client certificate is refused")
    func expiredClient() async throws {
        let expired = try ca.issueWorkload(orders, validity: .seconds(3600), now: Date() - 48 * 3600)
        let outcome = try await serverOutcome(client: TLSConfigurations.meshClient(identity: expired, ca: ca))
        #expect(outcome != nil)
        #expect(outcome?.succeeded == false, "\(String(describing: outcome))")
    }

    @Test("the client refuses a server whose certificate is not from the devmesh CA")
    func clientRefusesForeignServer() async throws {
        let foreign = try CertificateAuthority.ephemeral(owner: "mallory@elsewhere")
        let server = try TLSConfigurations.meshServer(identity: foreign.issueWorkload(users), ca: ca)
        let client = try TLSConfigurations.meshClient(identity: ca.issueWorkload(orders), ca: ca)
        let (clientSide, serverSide) = try await withTLSServer(context: server) {
            try await handshake(server: $0, client: client)
        }
        #expect(clientSide?.succeeded == false, "\(String(describing: clientSide))")
        #expect(serverSide?.succeeded == false)
    }
}
