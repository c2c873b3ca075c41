import DevMeshCore
@testable import DevMeshProxy
import DevMeshTesting
import NIOPosix
import Testing

/// The gateway role of the proxy core: routing by host and path, and what it refuses itself.
@Suite(.timeLimit(.minutes(1))) struct GatewayProxyTests {
    func fixture() async throws -> ProxyFixture {
        try await ProxyFixture(role: .gateway) { route in
            var config = GatewayConfig(declared: true)
            config.routes = [RouteConfig(path: "/api", to: "svc", stripPrefix: true)]
            route.gateway = GatewayRouting(table: GatewayRouteTable(gateway: config, services: ["svc"]),
                                           services: ["svc": route.endpoints])
        }
    }

    func send(_ f: ProxyFixture, _ text: String, responses: Int = 1) async throws -> RawHTTPClient.Reply {
        try await RawHTTPClient.exchange(port: f.port, text, until: RawHTTPClient.responses(responses))
    }

    @Test func routesByPathAndAutomaticHost() async throws {
        let f = try await fixture()
        let viaPath = try await send(f, "GET /api/x?q=1 HTTP/1.1\r\nHost: localhost:8443\r\n\r\n")
        #expect(viaPath.statuses == [200])
        #expect(viaPath.body == "u1 GET /x?q=1")
        let viaHost = try await send(f, "GET /api/x HTTP/1.1\r\nHost: svc.localhost\r\n\r\n")
        #expect(viaHost.body == "u1 GET /api/x")
        let none = try await send(f, "GET /other HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(none.statuses == [404])
        #expect(none.header("x-devmesh-error") == "no-route")
        await f.stop()
    }

    @Test func connectAndNonOriginTargetsAreRefused() async throws {
        let f = try await fixture()
        let connect = try await send(f, "CONNECT svc.localhost:443 HTTP/1.1\r\nHost: svc.localhost:443\r\n\r\n")
        #expect(connect.statuses == [405])
        let star = try await send(f, "OPTIONS * HTTP/1.1\r\nHost: svc.localhost\r\n\r\n")
        #expect(star.statuses == [400])
        #expect(f.upstreams[0].requests.items.isEmpty)
        await f.stop()
    }

    @Test func manyPipelinedRefusalsAreAnsweredInALoopNotARecursion() async throws {
        let f = try await fixture()
        let n = 3000
        let text = String(repeating: "GET / HTTP/1.1\r\nHost: nope.example\r\n\r\n", count: n)
        let reply = try await send(f, text, responses: n)
        #expect(reply.statuses.count == n)
        #expect(reply.statuses.allSatisfy { $0 == 421 })
        await f.stop()
    }

    @Test func aTakenDefaultPortMovesToAFreeOneAndATakenExplicitPortFails() async throws {
        let holder = ProxyListener(route: ProxyRoute(role: .gateway, service: "g", endpoints: EndpointSource()), port: 0,
                                   group: MultiThreadedEventLoopGroup.singleton)
        let taken = try await holder.start()
        let route = ProxyRoute(role: .gateway, service: "g", endpoints: EndpointSource())
        let moved = ProxyListener(route: route, port: taken, group: MultiThreadedEventLoopGroup.singleton, fallbackToFreePort: true)
        let port = try await moved.start()
        #expect(port != taken && port > 0)
        #expect(moved.boundPort == port)
        let strict = ProxyListener(route: route, port: taken, group: MultiThreadedEventLoopGroup.singleton)
        await #expect(throws: (any Error).self) { try await strict.start() }
        await moved.stop()
        await holder.stop()
    }
}
