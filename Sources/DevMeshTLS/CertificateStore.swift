import DevMeshCore
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// The leaves devmesh serves, issued on demand and reused until they should be renewed.
///
/// Lookups that hit the cache are synchronous and cheap (one short lock), so an SNI callback can
/// answer on its event loop. Misses and renewals run on a `NIOThreadPool`: key generation and
/// signing never block an event loop. Issuance is serialized, which also bounds the CPU a
/// client can spend by asking for many names; concurrent requests for one name issue it once.
public final class CertificateStore: Sendable {
    /// What a cached leaf is for.
    public enum Key: Hashable, Sendable {
        /// A server certificate for one exact, lower-cased host name (from SNI).
        case host(String)
        /// One server certificate for several names (the gateway's default certificate).
        case hosts([String])
        /// A workload certificate for an identity.
        case workload(SPIFFEID)
    }

    /// A leaf with its NIOSSL forms, converted once rather than per handshake.
    public struct Leaf: Sendable {
        public let issued: IssuedCertificate
        public let certificateChain: [NIOSSLCertificate]
        public let privateKey: NIOSSLPrivateKey

        init(_ issued: IssuedCertificate) throws {
            self.issued = issued
            self.certificateChain = try issued.nioChain()
            self.privateKey = try issued.nioKey()
        }

        /// What an `sslContextCallback` hands NIOSSL to present this leaf.
        public var configurationOverride: NIOSSLContextConfigurationOverride {
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = certificateChain.map { .certificate($0) }
            override.privateKey = .privateKey(privateKey)
            return override
        }
    }

    /// The CA that signs every leaf of this store.
    public let authority: CertificateAuthority
    private let validity: Duration
    private let servesHost: @Sendable (String) -> Bool
    private let threadPool: NIOThreadPool
    private let now: @Sendable () -> Date
    private let maximumEntries: Int

    private let leaves = LockedValue<[Key: Leaf]>([:])
    private let meshContexts = LockedValue<[MeshContextKey: MeshContext]>([:])
    // Held only on thread-pool threads, around issuance; never on an event loop.
    private let issuance = LockedValue<Void>(())

    /// - Parameters:
    ///   - authority: the CA that signs.
    ///   - validity: lifetime of each leaf; it is renewed when a third of it is left.
    ///   - threadPool: where keys are generated and signed (not an event loop).
    ///   - maximumEntries: a bound on cached leaves, against a client cycling through names.
    ///   - now: the clock (injected by tests of renewal).
    ///   - servesHost: which valid, lower-cased host names may get a certificate on demand;
    ///     the gateway passes the hosts it routes. Names it refuses get the default certificate.
    public init(
        authority: CertificateAuthority,
        validity: Duration = CertificateAuthority.defaultLeafValidity,
        threadPool: NIOThreadPool = .singleton,
        maximumEntries: Int = 1024,
        now: @escaping @Sendable () -> Date = { Date() },
        servesHost: @escaping @Sendable (String) -> Bool = { _ in true }
    ) {
        self.authority = authority
        self.validity = validity
        self.threadPool = threadPool
        self.maximumEntries = max(1, maximumEntries)
        self.now = now
        self.servesHost = servesHost
    }

    // MARK: - Host names

    /// The canonical form of `host` if this store issues for it: a valid name (see
    /// ``CertificateHost``) that the allow-list accepts; `nil` otherwise.
    public func servedHost(_ host: String) -> String? {
        guard let parsed = try? CertificateHost(parsing: host) else { return nil }
        let canonical = parsed.description
        return servesHost(canonical) ? canonical : nil
    }

    private func hostKey(_ host: String) throws -> Key {
        let canonical = try CertificateHost(parsing: host).description
        guard servesHost(canonical) else { throw IssuanceError.hostNotServed(canonical) }
        return .host(canonical)
    }

    private static func hostsKey(_ hosts: [String]) throws -> Key {
        var names: [String] = []
        for host in hosts {
            let name = try CertificateHost(parsing: host).description
            if !names.contains(name) { names.append(name) }
        }
        return .hosts(names)
    }

    // MARK: - async API

    /// A server certificate for exactly `host` (validated and checked against the allow-list).
    public func serverCertificate(forHost host: String) async throws -> IssuedCertificate {
        try await leaf(for: hostKey(host)).issued
    }

    /// One server certificate for all of `hosts` (configured names; not checked against the allow-list).
    public func serverCertificate(forHosts hosts: [String]) async throws -> IssuedCertificate {
        try await leaf(for: Self.hostsKey(hosts)).issued
    }

    /// The workload certificate for `id`.
    public func workloadCertificate(for id: SPIFFEID) async throws -> IssuedCertificate {
        try await leaf(for: .workload(id)).issued
    }

    /// The cached leaf for `key`, issued (on the thread pool) when missing or due for renewal.
    public func leaf(for key: Key) async throws -> Leaf {
        try await cachedOrOnPool(freshLeaf(key)) { try self.leafOrIssue(key) }
    }

    // MARK: - EventLoopFuture API (for NIO callbacks such as SNI)

    /// ``leaf(for:)`` for callers on an event loop: a cache hit completes at once, a miss
    /// completes on `eventLoop` once the thread pool has issued the leaf.
    public func leaf(for key: Key, on eventLoop: any EventLoop) -> EventLoopFuture<Leaf> {
        cachedOrOnPool(freshLeaf(key), on: eventLoop) { try self.leafOrIssue(key) }
    }

    /// The server leaf for exactly `host`, for an SNI callback.
    public func serverLeaf(forHost host: String, on eventLoop: any EventLoop) -> EventLoopFuture<Leaf> {
        do {
            return leaf(for: try hostKey(host), on: eventLoop)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// The server leaf covering all of `hosts`, for an SNI callback's default.
    public func serverLeaf(forHosts hosts: [String], on eventLoop: any EventLoop) -> EventLoopFuture<Leaf> {
        do {
            return leaf(for: try Self.hostsKey(hosts), on: eventLoop)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    // MARK: - Cache

    /// The cached value, or `build` run on the thread pool (it may generate keys).
    private func cachedOrOnPool<T: Sendable>(_ cached: T?, _ build: @escaping @Sendable () throws -> T) async throws -> T {
        if let cached { return cached }
        return try await threadPool.runIfActive(build)
    }

    /// The same for a caller on `eventLoop`: a hit completes at once, a miss on `eventLoop`
    /// once the pool is done.
    private func cachedOrOnPool<T: Sendable>(
        _ cached: T?, on eventLoop: any EventLoop, _ build: @escaping @Sendable () throws -> T
    ) -> EventLoopFuture<T> {
        if let cached { return eventLoop.makeSucceededFuture(cached) }
        return threadPool.runIfActive(eventLoop: eventLoop, build)
    }

    private func freshLeaf(_ key: Key) -> Leaf? {
        guard let leaf = leaves.withLock({ $0[key] }), !leaf.issued.shouldRenew(now: now()) else { return nil }
        return leaf
    }

    /// Runs on the thread pool only.
    private func leafOrIssue(_ key: Key) throws -> Leaf {
        try issuance.withLock { _ in
            // Whoever held the lock before us may just have issued this very leaf.
            if let hit = freshLeaf(key) { return hit }
            let leaf = try Leaf(issue(key))
            leaves.withLock { leaves in
                if leaves[key] == nil, leaves.count >= maximumEntries { evict(from: &leaves) }
                leaves[key] = leaf
            }
            return leaf
        }
    }

    private func issue(_ key: Key) throws -> IssuedCertificate {
        switch key {
        case .host(let host):
            return try authority.issueServer(hosts: [host], validity: validity, now: now())
        case .hosts(let hosts):
            return try authority.issueServer(hosts: hosts, validity: validity, now: now())
        case .workload(let id):
            return try authority.issueWorkload(id, validity: validity, now: now())
        }
    }

    /// Drops leaves due for renewal, or else the one expiring first.
    private func evict(from leaves: inout [Key: Leaf]) {
        let moment = now()
        let stale = leaves.filter { $0.value.issued.shouldRenew(now: moment) }.map(\.key)
        if !stale.isEmpty {
            for key in stale { leaves[key] = nil }
        } else if let oldest = leaves.min(by: { $0.value.issued.notAfter < $1.value.issued.notAfter }) {
            leaves[oldest.key] = nil
        }
    }

    // MARK: - mTLS contexts, one per identity and side, rebuilt when the leaf is renewed

    private enum MeshSide: Hashable { case server, client }

    private struct MeshContextKey: Hashable {
        var id: SPIFFEID
        var side: MeshSide
    }

    private struct MeshContext: Sendable {
        var leaf: IssuedCertificate
        var context: NIOSSLContext
    }

    /// The inbound sidecar's context for `id` (see ``TLSConfigurations/meshServer(identity:ca:)``).
    public func meshServerContext(for id: SPIFFEID) async throws -> NIOSSLContext {
        try await meshContext(MeshContextKey(id: id, side: .server))
    }

    /// The egress sidecar's context for `id` (see ``TLSConfigurations/meshClient(identity:ca:)``).
    public func meshClientContext(for id: SPIFFEID) async throws -> NIOSSLContext {
        try await meshContext(MeshContextKey(id: id, side: .client))
    }

    /// ``meshServerContext(for:)`` for callers on an event loop.
    public func meshServerContext(for id: SPIFFEID, on eventLoop: any EventLoop) -> EventLoopFuture<NIOSSLContext> {
        meshContext(MeshContextKey(id: id, side: .server), on: eventLoop)
    }

    /// ``meshClientContext(for:)`` for callers on an event loop.
    public func meshClientContext(for id: SPIFFEID, on eventLoop: any EventLoop) -> EventLoopFuture<NIOSSLContext> {
        meshContext(MeshContextKey(id: id, side: .client), on: eventLoop)
    }

    private func meshContext(_ key: MeshContextKey) async throws -> NIOSSLContext {
        try await cachedOrOnPool(freshMeshContext(key)) { try self.meshContextOrBuild(key) }
    }

    private func meshContext(_ key: MeshContextKey, on eventLoop: any EventLoop) -> EventLoopFuture<NIOSSLContext> {
        cachedOrOnPool(freshMeshContext(key), on: eventLoop) { try self.meshContextOrBuild(key) }
    }

    private func freshMeshContext(_ key: MeshContextKey) -> NIOSSLContext? {
        guard let cached = meshContexts.withLock({ $0[key] }), !cached.leaf.shouldRenew(now: now()) else { return nil }
        return cached.context
    }

    /// Runs on the thread pool only (building an `NIOSSLContext` is not free either).
    private func meshContextOrBuild(_ key: MeshContextKey) throws -> NIOSSLContext {
        let leaf = try leafOrIssue(.workload(key.id)).issued
        if let cached = meshContexts.withLock({ $0[key] }), cached.leaf.leaf == leaf.leaf {
            return cached.context
        }
        let context =
            switch key.side {
            case .server: try TLSConfigurations.meshServer(identity: leaf, ca: authority)
            case .client: try TLSConfigurations.meshClient(identity: leaf, ca: authority)
            }
        meshContexts.withLock { $0[key] = MeshContext(leaf: leaf, context: context) }
        return context
    }
}
