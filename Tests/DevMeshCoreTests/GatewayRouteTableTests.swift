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

@Suite struct RouteVersionTests {
    func table() throws -> GatewayRouteTable {
        let loaded = ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": """
            services:
              orders: {run: ./o}
              orders-v2: {run: ./o2}
              beta: {run: ./b}
            gateway:
              routes:
                - {path: /api/orders, to: orders, deprecated: {sunset: 2027-06-30, link: "https://docs.example/v2"}}
                - {path: /api/orders, to: orders-v2, version: "2"}
                - {path: /api/orders, to: beta, version: {header: X-Api-Version, value: beta}}
            """]), environment: [:], purpose: .check, workingDirectory: "/s").load()
        let config = try #require(loaded.config, "\(loaded.diagnostics.map(\.message))")
        return GatewayRouteTable(gateway: config.gateway, services: config.services.map(\.name))
    }

    @Test func theVersionHeaderPicksTheRouteAndNoneIsTheDefault() throws {
        let t = try table()
        #expect(try t.route(host: "localhost", target: "/api/orders/1").get().service == "orders")
        #expect(try t.route(host: "localhost", target: "/api/orders/1", field: { $0 == "Accept-Version" ? " 2 " : nil }).get().service == "orders-v2")
        #expect(try t.route(host: "localhost", target: "/api/orders", field: { $0 == "X-Api-Version" ? "beta" : nil }).get().service == "beta")
        #expect(try t.route(host: "localhost", target: "/api/orders", field: { $0 == "Accept-Version" ? "9" : nil }).get().service == "orders",
                "an unknown version gets the default")
    }

    @Test func answersSayTheyVaryAndWhenTheDefaultGoes() throws {
        let old = try table().route(host: "localhost", target: "/api/orders").get().responseHeaders
        #expect(old.add.map { "\($0.name): \($0.value)" } == ["Deprecation: true", "Sunset: Wed, 30 Jun 2027 00:00:00 GMT"])
        #expect(old.append.map { "\($0.name): \($0.value)" }.contains("Link: <https://docs.example/v2>; rel=\"deprecation\""))
        #expect(old.append.contains { $0.name == "Vary" })
        let v2 = try table().route(host: "localhost", target: "/api/orders", field: { $0 == "Accept-Version" ? "2" : nil }).get().responseHeaders
        #expect(v2.add.isEmpty)
    }

    @Test func httpDatesAndBadConfig() {
        #expect(RouteDeprecation.httpDate("2000-02-29") == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(RouteDeprecation.httpDate("2026-11-27") == "Fri, 27 Nov 2026 00:00:00 GMT")
        #expect(RouteDeprecation.httpDate("2027-02-29") == nil)
        let loaded = ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": """
            services:
              a: {run: ./a}
            gateway:
              routes:
                - {path: /x, to: a, version: {header: X-V}, deprecated: {sunset: soon}}
            """]), environment: [:], purpose: .check, workingDirectory: "/s").load()
        let messages = loaded.diagnostics.map(\.message)
        #expect(messages.contains { $0.contains("needs a `value`") }, "\(messages)")
        #expect(messages.contains { $0.contains("`deprecated.sunset` must be a date") }, "\(messages)")
    }
}

@Suite struct RouteRewriteTests {
    func table(_ routes: String) throws -> GatewayRouteTable {
        let loaded = ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": """
            services:
              users: {run: ./u}
              files: {run: ./f}
            gateway:
              routes:
            \(routes)
            """]), environment: [:], purpose: .check, workingDirectory: "/s").load()
        let config = try #require(loaded.config, "\(loaded.diagnostics.map(\.message))")
        #expect(!loaded.diagnostics.hasErrors, "\(loaded.diagnostics.map(\.message))")
        return GatewayRouteTable(gateway: config.gateway, services: config.services.map(\.name))
    }

    @Test func capturedSegmentsGoWhereTheRewriteSays() throws {
        let t = try table("""
                - {path: "/api/v1/users/{id}/orders/{order}", to: users, rewrite: "/orders/{order}/of/{id}"}
                - {path: "/api/v1/users/{id}", to: users, rewrite: "/users/{id}"}
                - {path: /static, to: files, rewrite: /public/}
            """)
        #expect(try t.route(host: "localhost", target: "/api/v1/users/42").get().target == "/users/42")
        #expect(try t.route(host: "localhost", target: "/api/v1/users/42/profile?x=1").get().target == "/users/42/profile?x=1")
        #expect(try t.route(host: "localhost", target: "/api/v1/users/7/orders/9?full=1").get().target == "/orders/9/of/7?full=1")
        #expect(try t.route(host: "localhost", target: "/static/css/a.css").get().target == "/public/css/a.css")
        #expect(try t.route(host: "localhost", target: "/static").get().target == "/public/")
        // A capture is one whole, non-empty segment.
        #expect(throws: GatewayRouteTable.Miss.self) { try t.route(host: "localhost", target: "/api/v1/users/").get() }
        #expect(throws: GatewayRouteTable.Miss.self) { try t.route(host: "localhost", target: "/api/v1/usersX/1").get() }
    }

    @Test func badPatternsAndRewritesAreConfigErrors() {
        let loaded = ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": """
            services:
              users: {run: ./u}
            gateway:
              routes:
                - {path: "/u/{id}", to: users, rewrite: "/users/{name}"}
                - {path: "/v/x{id}", to: users}
                - {path: "/w", to: users, rewrite: "w", strip_prefix: true}
                - {path: "/z", to: users, rewrite: "/a", strip_prefix: true}
            """]), environment: [:], purpose: .check, workingDirectory: "/s").load()
        let messages = loaded.diagnostics.map(\.message)
        #expect(messages.contains { $0.contains("`{name}`, which the route's path does not capture") }, "\(messages)")
        #expect(messages.contains { $0.contains("a capture is a whole segment") }, "\(messages)")
        #expect(messages.contains { $0.contains("must be a path starting with `/`") }, "\(messages)")
        #expect(messages.contains { $0.contains("`rewrite` and `strip_prefix`") }, "\(messages)")
    }

    @Test func aCaptureNeverShadowsALiteralRouteOfTheSameDepth() throws {
        let t = try table("""
                - {path: "/api/{v}", to: files}
                - {path: /api/admin, to: users, auth: {api_keys: keys.txt}}
            """)
        #expect(try t.route(host: "localhost", target: "/api/admin/x").get().service == "users")
        #expect(try t.route(host: "localhost", target: "/api/other").get().service == "files")
    }

    @Test func editsMayNotTouchTheGatewaysOwnFields() {
        let loaded = ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": """
            services:
              users: {run: ./u}
            gateway:
              routes:
                - {path: /a, to: users, headers: {rename: {Content-Length: X-Len}, add: {X-Forwarded-For: 1.2.3.4}, remove: [Transfer-Encoding]}}
                - {path: /b, to: users, auth: {jwt: default/api}, version: {header: "X V", value: "1"}, deprecated: {link: "x>y"}}
            """]), environment: [:], purpose: .check, workingDirectory: "/s").load()
        let messages = loaded.diagnostics.filter { $0.severity == .error }.map(\.message)
        #expect(messages.contains { $0.contains("may not touch `Content-Length`") }, "\(messages)")
        #expect(messages.contains { $0.contains("may not set `X-Forwarded-For`") }, "\(messages)")
        #expect(messages.contains { $0.contains("may not drop `Transfer-Encoding`") }, "\(messages)")
        #expect(!messages.contains { $0.contains("not implemented") }, "every `auth` kind is built: \(messages)")
        #expect(messages.contains { $0.contains("`version.header` must be a header name") }, "\(messages)")
        #expect(messages.contains { $0.contains("`deprecated.link` must be a URL") }, "\(messages)")
    }

    @Test func capturesAreOnePlainSegmentAndFillInOnce() {
        let p = PathPattern("/u/{id}")
        #expect(p.match("/u/42/x")?.captures["id"] == "42")
        for bad in ["/u/..", "/u/.", "/u/a%2Fb", "/u/a%5cb", "/u/%2e%2e"] { #expect(p.match(bad) == nil, "\(bad)") }
        #expect(PathPattern.fill("/x/{a}/{b}", ["a": "{b}", "b": "2"]) == "/x/{b}/2")
    }

    @Test func headersAreRenamedInTheEdits() {
        var edits = HeaderEdits()
        edits.rename = [("X-User", "X-Account")]
        #expect(edits.renamed("x-user") == "X-Account")
        #expect(edits.renamed("X-Users") == nil)
    }
}

struct AggregateRouteConfigTests {
    @Test func aggregateRoutesAreCheckedCallByCall() {
        let loaded = ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": """
            services:
              users: {run: ./u}
              db: {run: ./d, protocol: tcp}
            gateway:
              routes:
                - {path: "/a/{id}", aggregate: {u: {to: users, path: "/users/{uid}"}, d: {to: db, path: /x}, n: {to: nobody, path: /y}}}
                - {path: /b, to: users, aggregate: {u: {to: users, path: /u}}, cache: true}
                - {path: /c, aggregate: {u: {path: /u}, "x.y": {to: users, path: /z}}}
            """]), environment: [:], purpose: .check, workingDirectory: "/s").load()
        let messages = loaded.diagnostics.filter { $0.severity == .error }.map(\.message)
        #expect(messages.contains { $0.contains("`aggregate.u.path` uses `{uid}`, which the route's path does not capture") }, "\(messages)")
        #expect(messages.contains { $0.contains("goes to `db`, which is not an http service") }, "\(messages)")
        #expect(messages.contains { $0.contains("aggregate call `n` goes `to: nobody`") }, "\(messages)")
        #expect(messages.contains { $0.contains("has both `to` and `aggregate`") }, "\(messages)")
        #expect(messages.contains { $0.contains("`cache` has no meaning on an aggregate route") }, "\(messages)")
        #expect(messages.contains { $0.contains("`aggregate.u` has no `to`") }, "\(messages)")
        #expect(messages.contains { $0.contains("a key of the merged JSON") }, "\(messages)")
    }
}
