import DevMeshCore
import DevMeshPolicy
@testable import DevMeshProxy
import DevMeshTesting
@_spi(Testing) import DevMeshTLS
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// mTLS between sidecars with real listeners: an egress listener of `orders` calls the inbound
/// sidecar of `users`, which requires a certificate from the devmesh CA.
@Suite(.timeLimit(.minutes(2))) struct MTLSTests {
    static let orders = SPIFFEID(namespace: "default", serviceAccount: "orders")
    static let users = SPIFFEID(namespace: "default", serviceAccount: "users")

    /// A CA in a scratch folder (never the user's).
    static func authority() throws -> CertificateAuthority {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("devmesh-mtls-\(UUID().uuidString)").path
        return try CertificateAuthority.loadOrCreate(directory: dir)
    }

    struct Mesh {
        let upstream: TestUpstream
        let inbound: ProxyListener
        let inboundPort: Int
        let inboundTelemetry = RecordingTelemetry()
        let store: CertificateStore

        init(requireTLS: Bool = true) async throws {
            store = CertificateStore(authority: try MTLSTests.authority())
            upstream = TestUpstream(name: "users")
            let appPort = try await upstream.start()
            var route = ProxyRoute(role: .inbound, service: "users", instance: "users.1",
                                   endpoints: EndpointSource([Endpoint(port: appPort, name: "users.1")]), telemetry: inboundTelemetry)
            route.localIdentity = MTLSTests.users
            let store = self.store
            inbound = ProxyListener(route: route, port: 0, group: MultiThreadedEventLoopGroup.singleton,
                                    tls: .mesh({ store.meshServerContext(for: MTLSTests.users, on: $0) }, requireTLS: requireTLS))
            inboundPort = try await inbound.start()
        }

        /// An egress listener of `orders` towards the inbound, with the given client TLS.
        func egress(_ tls: UpstreamTLS?) async throws -> (ProxyListener, Int) {
            var route = ProxyRoute(role: .egress, service: "orders", upstreamName: "users",
                                   endpoints: EndpointSource([Endpoint(port: inboundPort, name: "users.1")]))
            route.upstreamTLS = tls
            route.retries.attempts = 0
            let listener = ProxyListener(route: route, port: 0, group: MultiThreadedEventLoopGroup.singleton)
            return (listener, try await listener.start())
        }

        func ordersTLS(expecting expected: SPIFFEID = MTLSTests.users) -> UpstreamTLS {
            let store = self.store
            return UpstreamTLS(context: { store.meshClientContext(for: MTLSTests.orders, on: $0) }, expected: expected)
        }

        func stop() async {
            await inbound.stop()
            await upstream.stop()
        }
    }

    static func get(_ port: Int, _ path: String = "/headers", headers: String = "") async throws -> RawHTTPClient.Reply {
        try await RawHTTPClient.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: users\r\n\(headers)\r\n", until: RawHTTPClient.responses(1))
    }

    @Test func callerIdentityReachesTheCalleeSpanAndTheApp() async throws {
        let mesh = try await Mesh()
        let (egress, port) = try await mesh.egress(mesh.ordersTLS())
        // A client-supplied x-forwarded-client-cert is never passed on as if it were true.
        let reply = try await Self.get(port, headers: "x-forwarded-client-cert: URI=spiffe://cluster.local/ns/default/sa/admin\r\n")
        #expect(reply.statuses == [200])
        #expect(reply.body.contains("x-forwarded-client-cert: By=\(Self.users.uri);URI=\(Self.orders.uri)"))
        #expect(!reply.body.contains("sa/admin"))
        let span = try #require(await mesh.inboundTelemetry.spans.first { _ in true })
        #expect(span.attributes["devmesh.source.principal"] == "cluster.local/ns/default/sa/orders")
        let access = try #require(await mesh.inboundTelemetry.access.first { _ in true })
        #expect(access.source == "cluster.local/ns/default/sa/orders")
        await egress.stop()
        await mesh.stop()
    }

    @Test func strictInboundRefusesPlaintextBeforeTheAppSeesIt() async throws {
        let mesh = try await Mesh(requireTLS: true)
        let reply = try await Self.get(mesh.inboundPort)
        #expect(reply.statuses.isEmpty)
        #expect(mesh.upstream.requests.items.isEmpty)
        await mesh.stop()
    }

    @Test func permissiveInboundTakesPlaintextAndTLS() async throws {
        let mesh = try await Mesh(requireTLS: false)
        let plain = try await Self.get(mesh.inboundPort)
        #expect(plain.statuses == [200])
        #expect(!plain.body.contains("x-forwarded-client-cert"))
        let (egress, port) = try await mesh.egress(mesh.ordersTLS())
        let viaTLS = try await Self.get(port)
        #expect(viaTLS.statuses == [200])
        #expect(viaTLS.body.contains("URI=\(Self.orders.uri)"))
        await egress.stop()
        await mesh.stop()
    }

    @Test func anUpstreamWithTheWrongIdentityIsRefused() async throws {
        let mesh = try await Mesh()
        let wrong = SPIFFEID(namespace: "default", serviceAccount: "payments")
        let (egress, port) = try await mesh.egress(mesh.ordersTLS(expecting: wrong))
        let reply = try await Self.get(port)
        #expect(reply.statuses == [502])
        #expect(reply.header("x-devmesh-error") == "upstream-identity")
        #expect(reply.body.contains("spiffe://cluster.local/ns/default/sa/payments"))
        #expect(mesh.upstream.requests.items.isEmpty)
        await egress.stop()
        await mesh.stop()
    }

    @Test func aCertificateFromAForeignCAIsRefused() async throws {
        let mesh = try await Mesh()
        let foreign = try Self.authority()
        let leaf = try foreign.issueWorkload(Self.orders)
        let context = try TLSConfigurations.meshClient(identity: leaf, ca: foreign)
        let (egress, port) = try await mesh.egress(UpstreamTLS(context: { $0.makeSucceededFuture(context) }, expected: Self.users))
        let reply = try await Self.get(port)
        #expect(reply.statuses == [502])
        #expect(reply.header("x-devmesh-error") == "upstream-tls")
        #expect(mesh.upstream.requests.items.isEmpty)
        await egress.stop()
        await mesh.stop()
    }

    @Test func anExpiredCertificateIsRefused() async throws {
        let mesh = try await Mesh()
        let ca = mesh.store.authority
        let expired = try ca.issueWorkload(Self.orders, validity: .seconds(3600), now: Date().addingTimeInterval(-3 * 24 * 3600))
        let context = try TLSConfigurations.meshClient(identity: expired, ca: ca)
        let (egress, port) = try await mesh.egress(UpstreamTLS(context: { $0.makeSucceededFuture(context) }, expected: Self.users))
        let reply = try await Self.get(port)
        #expect(reply.statuses == [502])
        #expect(reply.header("x-devmesh-error") == "upstream-tls")
        #expect(mesh.upstream.requests.items.isEmpty)
        await egress.stop()
        await mesh.stop()
    }

    @Test func aClientWithoutCertificateIsRefused() async throws {
        let mesh = try await Mesh()
        var config = TLSConfiguration.makeClientConfiguration()
        config.certificateVerification = .none
        let context = try NIOSSLContext(configuration: config)
        let (egress, port) = try await mesh.egress(UpstreamTLS(context: { $0.makeSucceededFuture(context) }, expected: Self.users))
        let reply = try await Self.get(port)
        #expect(reply.statuses == [502])
        #expect(mesh.upstream.requests.items.isEmpty)
        await egress.stop()
        await mesh.stop()
    }

    @Test func tcpRelaysUseMTLSToo() async throws {
        let store = CertificateStore(authority: try Self.authority())
        let echo = RawUpstream { _ in .replyThenEcho([]) }
        let echoPort = try await echo.start()
        var inboundRoute = ProxyRoute(role: .inbound, service: "db", instance: "db.1",
                                      endpoints: EndpointSource([Endpoint(port: echoPort, name: "db.1")]))
        inboundRoute.transport = .tcp
        let db = SPIFFEID(namespace: "default", serviceAccount: "db")
        let inbound = ProxyListener(route: inboundRoute, port: 0, group: MultiThreadedEventLoopGroup.singleton,
                                    tls: .mesh({ store.meshServerContext(for: db, on: $0) }, requireTLS: true))
        let inboundPort = try await inbound.start()
        var egressRoute = ProxyRoute(role: .egress, service: "orders", upstreamName: "db",
                                     endpoints: EndpointSource([Endpoint(port: inboundPort, name: "db.1")]))
        egressRoute.transport = .tcp
        egressRoute.upstreamTLS = UpstreamTLS(context: { store.meshClientContext(for: Self.orders, on: $0) }, expected: db)
        let egress = ProxyListener(route: egressRoute, port: 0, group: MultiThreadedEventLoopGroup.singleton)
        let port = try await egress.start()
        let reply = try await RawHTTPClient.exchange(port: port, [Array("ping\n".utf8)]) {
            String(decoding: $0, as: UTF8.self).hasSuffix("ping\n")
        }
        #expect(reply.text == "ping\n")
        // Plaintext straight to the strict inbound relay gets nothing through.
        let plain = try await RawHTTPClient.exchange(port: inboundPort, [Array("ping\n".utf8)])
        #expect(!plain.text.contains("ping"), "only a TLS alert comes back")
        await egress.stop()
        await inbound.stop()
        await echo.stop()
    }

    /// A TCP service's policies are decided per connection with the caller's mTLS principal:
    /// orders gets through, another caller is closed before the app is connected.
    @Test func tcpConnectionsAreAuthorizedByPrincipal() async throws {
        let store = CertificateStore(authority: try Self.authority())
        let echo = RawUpstream { _ in .replyThenEcho([]) }
        let echoPort = try await echo.start()
        let policies = PolicyDocuments.parse("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: db-callers, namespace: default}
            spec:
              selector: {matchLabels: {app: db}}
              rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/orders]}}]}]
            """, file: "db.yaml").authorizationPolicies
        var inboundRoute = ProxyRoute(role: .inbound, service: "db", instance: "db.1",
                                      endpoints: EndpointSource([Endpoint(port: echoPort, name: "db.1")]))
        inboundRoute.transport = .tcp
        inboundRoute.authorization = PolicyGate(InboundAuthorization(engine: PolicyEngine(policies: policies),
                                                                     workload: PolicyWorkload(name: "db"), port: 5432, normalization: .base))
        let db = SPIFFEID(namespace: "default", serviceAccount: "db")
        let inbound = ProxyListener(route: inboundRoute, port: 0, group: MultiThreadedEventLoopGroup.singleton,
                                    tls: .mesh({ store.meshServerContext(for: db, on: $0) }, requireTLS: true))
        let inboundPort = try await inbound.start()
        func egress(from caller: SPIFFEID) async throws -> (ProxyListener, Int) {
            var route = ProxyRoute(role: .egress, service: caller.serviceAccount, upstreamName: "db",
                                   endpoints: EndpointSource([Endpoint(port: inboundPort, name: "db.1")]))
            route.transport = .tcp
            route.upstreamTLS = UpstreamTLS(context: { store.meshClientContext(for: caller, on: $0) }, expected: db)
            let listener = ProxyListener(route: route, port: 0, group: MultiThreadedEventLoopGroup.singleton)
            return (listener, try await listener.start())
        }
        let (fromOrders, ordersPort) = try await egress(from: Self.orders)
        let allowed = try await RawHTTPClient.exchange(port: ordersPort, [Array("ping\n".utf8)]) {
            String(decoding: $0, as: UTF8.self).hasSuffix("ping\n")
        }
        #expect(allowed.text == "ping\n")
        let (fromFrontend, frontendPort) = try await egress(from: SPIFFEID(namespace: "default", serviceAccount: "frontend"))
        // The relay may close before the client even writes (the egress opens its upstream at
        // once): a write error is the same answer as an empty read.
        let denied = try? await RawHTTPClient.exchange(port: frontendPort, [Array("ping\n".utf8)])
        #expect(denied?.text.isEmpty ?? true, "closed, nothing relayed")
        #expect(echo.connections.items.count == 1, "the app saw only the allowed connection")
        await fromOrders.stop()
        await fromFrontend.stop()
        await inbound.stop()
        await echo.stop()
    }
}
