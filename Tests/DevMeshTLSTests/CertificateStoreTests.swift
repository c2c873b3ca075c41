import DevMeshCore
@_spi(Testing) import DevMeshTLS
import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import Testing
import X509

/// A clock tests move by hand.
final class ManualClock: Sendable {
    private let current: NIOLockedValueBox<Date>

    init(_ start: Date) {
        current = NIOLockedValueBox(start)
    }

    var now: Date { current.withLockedValue { $0 } }

    func advance(by seconds: TimeInterval) {
        current.withLockedValue { $0 += seconds }
    }
}

@Suite("Certificate store")
struct CertificateStoreTests {
    let ca: CertificateAuthority
    let start = Date()

    init() throws {
        ca = try CertificateAuthority.ephemeral()
    }

    private func dnsNames(_ issued: IssuedCertificate) throws -> [String] {
        try #require(try issued.leaf.extensions.subjectAlternativeNames).compactMap {
            if case .dnsName(let name) = $0 { return name }
            return nil
        }
    }

    @Test("a host's certificate is issued once, lower-cased, and reused")
    func cachesHosts() async throws {
        let store = CertificateStore(authority: ca)
        let first = try await store.serverCertificate(forHost: "Users.LOCALHOST")
        #expect(try dnsNames(first) == ["users.localhost"])
        let second = try await store.serverCertificate(forHost: "users.localhost")
        #expect(second.leaf == first.leaf)
        let other = try await store.serverCertificate(forHost: "orders.localhost")
        #expect(other.leaf.serialNumber != first.leaf.serialNumber)
    }

    @Test("concurrent first requests for one host issue one certificate")
    func concurrentRequests() async throws {
        let store = CertificateStore(authority: ca)
        let serials = try await withThrowingTaskGroup(of: Certificate.SerialNumber.self) { group in
            for _ in 0..<16 {
                group.addTask { try await store.serverCertificate(forHost: "users.localhost").leaf.serialNumber }
            }
            return try await group.reduce(into: Set<Certificate.SerialNumber>()) { $0.insert($1) }
        }
        #expect(serials.count == 1)
    }

    @Test("a leaf is renewed once less than a third of its life is left")
    func renews() async throws {
        let clock = ManualClock(start)
        let store = CertificateStore(authority: ca, now: { clock.now })
        let id = SPIFFEID(namespace: "default", serviceAccount: "users")
        let first = try await store.workloadCertificate(for: id)
        clock.advance(by: 15 * 3600)
        #expect(try await store.workloadCertificate(for: id).leaf == first.leaf)
        clock.advance(by: 2 * 3600)
        let renewed = try await store.workloadCertificate(for: id)
        #expect(renewed.leaf != first.leaf)
        #expect(renewed.notAfter == first.notAfter.addingTimeInterval(17 * 3600))
        #expect(TLSConfigurations.peerIdentity(renewed.leaf) == id)
    }

    @Test("the mTLS context is cached per identity and rebuilt with a renewed leaf")
    func cachesMeshContexts() async throws {
        let clock = ManualClock(start)
        let store = CertificateStore(authority: ca, now: { clock.now })
        let id = SPIFFEID(namespace: "default", serviceAccount: "users")
        let server = try await store.meshServerContext(for: id)
        #expect(try await store.meshServerContext(for: id) === server)
        let client = try await store.meshClientContext(for: id)
        #expect(client !== server)
        #expect(try await store.meshClientContext(for: id) === client)
        clock.advance(by: 17 * 3600)
        #expect(try await store.meshServerContext(for: id) !== server)
    }

    @Test("invalid names are refused; the allow-list decides which valid names are served")
    func validatesHosts() async throws {
        let store = CertificateStore(authority: ca, servesHost: { $0.hasSuffix(".localhost") })
        for bad in ["", "*.localhost", "evil_name.localhost", String(repeating: "a", count: 254)] {
            await #expect(throws: CertificateHost.Invalid.self) { try await store.serverCertificate(forHost: bad) }
        }
        await #expect(throws: IssuanceError.hostNotServed("example.com")) {
            try await store.serverCertificate(forHost: "Example.COM")
        }
        #expect(store.servedHost("Users.Localhost") == "users.localhost")
        #expect(store.servedHost("example.com") == nil)
        #expect(store.servedHost("*.localhost") == nil)
        _ = try await store.serverCertificate(forHost: "users.localhost")
    }

    @Test("the EventLoopFuture variant issues off the loop and then answers from the cache")
    func futureVariant() async throws {
        let store = CertificateStore(authority: ca)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let issued = try await store.serverLeaf(forHost: "users.localhost", on: loop).get()
        #expect(issued.certificateChain.count == 2)
        let cached = try await store.serverLeaf(forHost: "users.localhost", on: loop).get()
        #expect(cached.issued.leaf == issued.issued.leaf)
        #expect(try await store.serverCertificate(forHost: "users.localhost").leaf == issued.issued.leaf)
        await #expect(throws: CertificateHost.Invalid.self) {
            try await store.serverLeaf(forHost: "*.localhost", on: loop).get()
        }
    }

    @Test("the cache is bounded: the entry expiring first makes room")
    func bounded() async throws {
        let clock = ManualClock(start)
        let store = CertificateStore(authority: ca, maximumEntries: 2, now: { clock.now })
        let a = try await store.serverCertificate(forHost: "a.localhost")
        clock.advance(by: 60)
        let b = try await store.serverCertificate(forHost: "b.localhost")
        clock.advance(by: 60)
        _ = try await store.serverCertificate(forHost: "c.localhost")
        #expect(try await store.serverCertificate(forHost: "b.localhost").leaf == b.leaf)
        #expect(try await store.serverCertificate(forHost: "a.localhost").leaf != a.leaf)
    }
}
