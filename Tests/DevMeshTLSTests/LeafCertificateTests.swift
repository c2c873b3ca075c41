import DevMeshCore
@_spi(Testing) import DevMeshTLS
import Foundation
import SwiftASN1
import Testing
import X509

@Suite("Leaf certificates")
struct LeafCertificateTests {
    // Whole seconds: certificate times have one-second resolution.
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 24 * 3600

    @Test("a server leaf has a SAN per host, serverAuth, a backdated notBefore and the CA's key id")
    func serverLeaf() throws {
        let ca = try CertificateAuthority.ephemeral(now: now)
        let issued = try ca.issueServer(
            hosts: ["localhost", "127.0.0.1", "::1", "[::1]", "Shop.LOCALHOST"], now: now + 60)
        let leaf = issued.leaf

        let sans = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(Array(sans) == [
            .dnsName("localhost"),
            .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
            .ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
            .dnsName("shop.localhost"),
        ])
        #expect(try leaf.extensions.extendedKeyUsage == ExtendedKeyUsage([.serverAuth]))
        #expect(try leaf.extensions.keyUsage == KeyUsage(digitalSignature: true))
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(leaf.extensions[oid: .X509ExtensionID.subjectAlternativeName]?.critical == false)
        #expect(leaf.subject.description == "CN=localhost,O=devmesh")
        #expect(leaf.issuer == ca.certificate.subject)
        #expect(leaf.notValidBefore == now + 60 - 300)
        #expect(leaf.notValidAfter == now + 60 + day)
        #expect(issued.notBefore == leaf.notValidBefore && issued.notAfter == leaf.notValidAfter)
        let caKeyID = try #require(try ca.certificate.extensions.subjectKeyIdentifier).keyIdentifier
        #expect(try leaf.extensions.authorityKeyIdentifier?.keyIdentifier == caKeyID)
        #expect(try leaf.extensions.subjectKeyIdentifier == SubjectKeyIdentifier(hash: leaf.publicKey))
        #expect(issued.chain == [leaf, ca.certificate])
        #expect(try issued.nioChain().count == 2)
        _ = try issued.nioKey()
    }

    @Test("the chain verifies for its names and only for them")
    func serverChainVerifies() async throws {
        let ca = try CertificateAuthority.ephemeral()
        let issued = try ca.issueServer(hosts: ["users.localhost", "127.0.0.1"])

        #expect(await verify(issued, roots: [ca.certificate], hostname: "users.localhost"))
        #expect(await verify(issued, roots: [ca.certificate], ip: "127.0.0.1"))
        #expect(await !verify(issued, roots: [ca.certificate], hostname: "orders.localhost"))
        #expect(await !verify(issued, roots: [ca.certificate], ip: "127.0.0.2"))
        let foreign = try CertificateAuthority.ephemeral()
        #expect(await !verify(issued, roots: [foreign.certificate], hostname: "users.localhost"))
    }

    @Test("a workload leaf carries only its SPIFFE URI, both EKUs, an empty subject and a critical SAN")
    func workloadLeaf() async throws {
        let ca = try CertificateAuthority.ephemeral(now: now)
        let id = SPIFFEID(namespace: "default", serviceAccount: "users")
        let issued = try ca.issueWorkload(id, validity: .seconds(3600), now: now)
        let leaf = issued.leaf

        let sans = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(Array(sans) == [.uniformResourceIdentifier("spiffe://cluster.local/ns/default/sa/users")])
        #expect(leaf.extensions[oid: .X509ExtensionID.subjectAlternativeName]?.critical == true)
        #expect(leaf.subject.isEmpty)
        #expect(try leaf.extensions.extendedKeyUsage == ExtendedKeyUsage([.serverAuth, .clientAuth]))
        #expect(try leaf.extensions.keyUsage == KeyUsage(digitalSignature: true))
        #expect(leaf.notValidAfter == now + 3600)
        #expect(TLSConfigurations.peerIdentity(leaf) == id)
    }

    @Test("workload chains verify against the CA, not against another one, not when expired")
    func workloadChainVerifies() async throws {
        let ca = try CertificateAuthority.ephemeral()
        let id = SPIFFEID(namespace: "default", serviceAccount: "orders")
        #expect(await verify(try ca.issueWorkload(id), roots: [ca.certificate], spiffe: id))
        #expect(await !verify(try ca.issueWorkload(id), roots: [ca.certificate], spiffe: SPIFFEID(namespace: "default", serviceAccount: "users")))
        let foreign = try CertificateAuthority.ephemeral()
        #expect(await !verify(try foreign.issueWorkload(id), roots: [ca.certificate], spiffe: id))
        let expired = try ca.issueWorkload(id, validity: .seconds(3600), now: Date() - 2 * day)
        #expect(expired.notAfter < Date())
        #expect(await !verify(expired, roots: [ca.certificate], spiffe: id))
    }

    @Test("an invalid identity is not signed")
    func invalidIdentity() throws {
        let ca = try CertificateAuthority.ephemeral()
        let bad = SPIFFEID(namespace: "a/b", serviceAccount: "users")
        #expect(throws: IssuanceError.invalidIdentity(bad)) { try ca.issueWorkload(bad) }
    }

    @Test("leaves never outlive the CA, and an expired CA signs nothing")
    func validityLimits() throws {
        let ca = try CertificateAuthority.ephemeral(now: now)
        let long = try ca.issueServer(hosts: ["localhost"], validity: .seconds(20 * 365 * 24 * 3600), now: now)
        #expect(long.notAfter == ca.notAfter)
        #expect(throws: IssuanceError.authorityExpired(notAfter: ca.notAfter)) {
            try ca.issueServer(hosts: ["localhost"], now: ca.notAfter + 1)
        }
        #expect(throws: IssuanceError.invalidValidity) {
            try ca.issueServer(hosts: ["localhost"], validity: .zero, now: now)
        }
        #expect(throws: IssuanceError.noHosts) { try ca.issueServer(hosts: [], now: now) }
    }

    @Test("renewal is due when less than a third of the lifetime is left")
    func renewal() throws {
        let ca = try CertificateAuthority.ephemeral(now: now)
        // 24 h + the 5 min backdating: renew when less than 8 h 1 min 40 s remain.
        let issued = try ca.issueServer(hosts: ["localhost"], now: now)
        #expect(!issued.shouldRenew(now: now))
        #expect(!issued.shouldRenew(now: now + 15 * 3600))
        #expect(!issued.shouldRenew(now: now + 15 * 3600 + 58 * 60))
        #expect(issued.shouldRenew(now: now + 16 * 3600))
        #expect(issued.shouldRenew(now: now + 2 * day))
        #expect(issued.shouldRenew(now: now - 600))  // not valid yet: the clock jumped back
    }

    @Test("host names are validated before anything is signed", arguments: [
        "", "*.localhost", "users.*", "a..b", ".localhost", "localhost.", "-a.localhost", "a-.localhost",
        "under_score.localhost", "sp ace.localhost", "ünï.localhost", "a/b", "a:b", "[127.0.0.1]", "[::1",
        "1.2.3.4.5:1", String(repeating: "a", count: 64) + ".localhost",
        (0..<64).map { _ in "abc" }.joined(separator: "."),
    ])
    func rejectsBadHosts(_ host: String) throws {
        let ca = try CertificateAuthority.ephemeral()
        #expect(throws: CertificateHost.Invalid.self) { try ca.issueServer(hosts: ["localhost", host]) }
    }

    @Test("host parsing accepts names and IP literals, canonically")
    func parsesHosts() throws {
        #expect(try CertificateHost(parsing: "Users.LocalHost") == .dnsName("users.localhost"))
        #expect(try CertificateHost(parsing: "127.0.0.1") == .ipAddress([127, 0, 0, 1], text: "127.0.0.1"))
        #expect(try CertificateHost(parsing: "[::1]").description == "::1")
        let longest = (0..<4).map { _ in String(repeating: "a", count: 63) }.joined(separator: ".")
        #expect(longest.count == 255)
        #expect(throws: CertificateHost.Invalid.self) { try CertificateHost(parsing: longest) }
        let fits = String(longest.dropFirst(2))
        #expect(fits.count == 253)
        #expect(try CertificateHost(parsing: fits) == .dnsName(fits))
    }

    // MARK: - Verification with swift-certificates

    private func verify(_ issued: IssuedCertificate, roots: [Certificate], hostname: String? = nil, ip: String? = nil) async -> Bool {
        var verifier = Verifier(rootCertificates: X509.CertificateStore(roots)) {
            RFC5280Policy()
            ServerIdentityPolicy(serverHostname: hostname, serverIP: ip)
        }
        let result = await verifier.validate(leaf: issued.leaf, intermediates: X509.CertificateStore())
        if case .validCertificate = result { return true }
        return false
    }

    private func verify(_ issued: IssuedCertificate, roots: [Certificate], spiffe id: SPIFFEID) async -> Bool {
        var verifier = Verifier(rootCertificates: X509.CertificateStore(roots)) {
            RFC5280Policy()
            SPIFFEIdentityPolicy(expected: id)
        }
        let result = await verifier.validate(leaf: issued.leaf, intermediates: X509.CertificateStore())
        if case .validCertificate = result { return true }
        return false
    }
}

/// Checks the leaf's SPIFFE identity, and thereby handles the critical SAN extension of
/// workload certificates (a verifier refuses critical extensions no policy handles).
struct SPIFFEIdentityPolicy: VerifierPolicy {
    let expected: SPIFFEID
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) -> PolicyEvaluationResult {
        TLSConfigurations.peerIdentity(chain.leaf) == expected
            ? .meetsPolicy : .failsToMeetPolicy(reason: PolicyFailureReason("leaf is not \(expected)"))
    }
}
