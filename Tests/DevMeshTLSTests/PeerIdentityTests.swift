import DevMeshCore
@_spi(Testing) import DevMeshTLS
import Foundation
import NIOSSL
import Testing
import X509

@Suite("Peer identity from a certificate")
struct PeerIdentityTests {
    let ca: CertificateAuthority

    init() throws {
        ca = try CertificateAuthority.ephemeral()
    }

    private func identity(of issued: IssuedCertificate) throws -> SPIFFEID? {
        // Through NIOSSL's certificate type, as the TLS handler hands it over.
        try TLSConfigurations.peerIdentity(#require(issued.nioChain().first))
    }

    private func leaf(_ names: [GeneralName]) throws -> IssuedCertificate {
        try ca.issueLeaf(
            subject: DistinguishedName(), subjectAlternativeNames: names,
            extendedKeyUsages: [.serverAuth, .clientAuth], validity: .seconds(3600), now: Date())
    }

    @Test("a workload certificate yields its identity")
    func workload() throws {
        let id = SPIFFEID(namespace: "shop", serviceAccount: "orders")
        #expect(try identity(of: ca.issueWorkload(id)) == id)
    }

    @Test("a certificate with a DNS SAN only has no identity")
    func dnsOnly() throws {
        #expect(try identity(of: ca.issueServer(hosts: ["users.localhost"])) == nil)
    }

    @Test("two URI SANs are ambiguous: no identity")
    func twoURIs() throws {
        let both = try leaf([
            .uniformResourceIdentifier("spiffe://cluster.local/ns/default/sa/users"),
            .uniformResourceIdentifier("spiffe://cluster.local/ns/default/sa/admin"),
        ])
        #expect(try identity(of: both) == nil)
    }

    @Test("a URI SAN that is not a devmesh SPIFFE ID gives no identity", arguments: [
        "https://users.localhost/",
        "spiffe://cluster.local/ns/default/sa/users/extra",
        "spiffe://cluster.local/ns/default/sa/us%65rs",
        "spiffe://cluster.local/workload/users",
    ])
    func notSPIFFE(_ uri: String) throws {
        #expect(try identity(of: leaf([.uniformResourceIdentifier(uri)])) == nil)
    }

    @Test("a DNS SAN beside the one SPIFFE URI does not hide it")
    func uriAndDNS() throws {
        let mixed = try leaf([.dnsName("users.localhost"), .uniformResourceIdentifier("spiffe://cluster.local/ns/a/sa/b")])
        #expect(try identity(of: mixed) == SPIFFEID(namespace: "a", serviceAccount: "b"))
    }
}
