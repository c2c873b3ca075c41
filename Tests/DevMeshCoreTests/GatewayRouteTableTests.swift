import DevMeshCore
import Testing

@Suite struct GatewayRouteTableTests {
    let gateway = GatewayConfig(
        declared: true, hosts: ["localhost", "shop.localhost"],
        routes: [
            RouteConfig(path: "/api/users", to: "users", stripPrefix: true),
            RouteConfig(path: "/api", to: "frontend"),
            RouteConfig(path: "/api/users/admin", to: "admin"),
            RouteConfig(host: "orders.localhost", to: "orders"),
            RouteConfig(host: "Guarded.Localhost", path: "/v1", to: "inventory", rateLimit: RateLimitConfig(requests: 1, per: .seconds(1))),
            RouteConfig(path: "/edit/", to: "users", stripPrefix: true,
                        requestHeaders: HeaderEdits(add: [("X-Env", "dev")], remove: ["X-Debug"])),
        ])
    var table: GatewayRouteTable { GatewayRouteTable(gateway: gateway, services: ["users", "frontend", "admin", "orders", "inventory"]) }

    func service(_ host: String, _ target: String) -> String? {
        try? table.route(host: host, target: target).get().service
    }

    func target(_ host: String, _ target: String) -> String? {
        try? table.route(host: host, target: target).get().target
    }

    @Test func longestPrefixWinsOnWholeSegments() {
        #expect(service("localhost", "/api/users/42") == "users")
        #expect(service("localhost", "/api/users/admin/x") == "admin")
        #expect(service("localhost", "/api/usersx") == "frontend")
        #expect(service("localhost", "/api") == "frontend")
        #expect(service("localhost", "/apix") == nil)
        #expect(service("localhost:8443", "/api/users?x=1") == "users")
        #expect(service("127.0.0.1:8443", "/api/x") == "frontend")
        #expect(service("[::1]:8443", "/api/x") == "frontend")
        #expect(service("SHOP.localhost.", "/api/x") == "frontend")
    }

    @Test func stripPrefixKeepsQueryAndRoot() {
        #expect(target("localhost", "/api/users/42?a=b") == "/42?a=b")
        #expect(target("localhost", "/api/users") == "/")
        #expect(target("localhost", "/api/users?a") == "/?a")
        #expect(target("localhost", "/api/x?y") == "/api/x?y")
        #expect(target("localhost", "/edit/page") == "/page")
    }

    @Test func dotSegmentsAreResolvedBeforeMatching() {
        #expect(service("localhost", "/api/users/../../apix") == nil)
        #expect(service("localhost", "/api/users/./admin/") == "admin")
        #expect(target("localhost", "/api/x/../y") == "/api/y")
        #expect(PathNormalizer.removeDotSegments("/a/b/../../../c") == "/c")
        #expect(PathNormalizer.removeDotSegments("/a/.") == "/a/")
        #expect(PathNormalizer.removeDotSegments("/a/..") == "/")
        #expect(PathNormalizer.removeDotSegments("/a/.b/..c") == "/a/.b/..c")
    }

    @Test func hostRoutesBeatAutoHostsAndPathRoutes() {
        #expect(service("orders.localhost", "/anything") == "orders")
        #expect(service("orders.localhost", "/api/users") == "orders")
        #expect(service("users.localhost:8443", "/api/x") == "users")
        #expect(target("users.localhost", "/api/users/1") == "/api/users/1")
        #expect(service("admin.localhost", "/") == "admin")
    }

    @Test func guardedServicesGetNoAutomaticHost() throws {
        #expect(table.autoHosts["inventory.localhost"] == nil)
        #expect(service("guarded.localhost", "/v1/items") == "inventory")
        #expect(throws: GatewayRouteTable.Miss.noRoute(host: "guarded.localhost", path: "/v2")) {
            try table.route(host: "guarded.localhost", target: "/v2").get()
        }
        #expect(throws: GatewayRouteTable.Miss.unknownHost("inventory.localhost")) {
            try table.route(host: "inventory.localhost", target: "/").get()
        }
        #expect(throws: GatewayRouteTable.Miss.unknownHost("evil.example")) {
            try table.route(host: "evil.example", target: "/api").get()
        }
    }

    @Test func autoHostsCanBeTurnedOff() {
        var g = gateway
        g.autoHosts = false
        let t = GatewayRouteTable(gateway: g, services: ["users"])
        #expect(t.autoHosts.isEmpty)
        #expect(!t.serves(host: "users.localhost"))
        #expect(t.serves(host: "orders.localhost"))
        #expect(t.serves(host: "localhost:8443"))
    }

    @Test func headerEditsTravelWithTheMatch() throws {
        let m = try table.route(host: "localhost", target: "/edit/x").get()
        #expect(m.requestHeaders.add.map(\.name) == ["X-Env"])
        #expect(m.requestHeaders.remove == ["X-Debug"])
        #expect(m.routeIndex == 5)
    }
}
