import DevMeshCore
@testable import DevMeshStore
import Foundation
import Testing

@Suite struct TraceQueryTests {
    static let traceA = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let traceB = "9e107d9d372bb6826bd81d3542a419d6"

    /// Trace A: web (inbound, root) → web egress to users → users inbound; all 200.
    /// Trace B, a second later: web root answers 404; its egress to orders and orders' inbound fail with 500.
    static func twoTraces(at t0: UInt64) -> [HopRecord] {
        let ms = Fixtures.ms
        return [
            Fixtures.hop(trace: traceA, span: "a000000000000001", parent: nil, service: "web", instance: "web.1",
                         target: "/users/42?verbose=1", start: t0, duration: 50 * ms),
            Fixtures.hop(trace: traceA, span: "a000000000000002", parent: "a000000000000001", listener: "egress",
                         service: "web", upstream: "users", target: "/users/42", start: t0 + 1 * ms, duration: 40 * ms),
            Fixtures.hop(trace: traceA, span: "a000000000000003", parent: "a000000000000002", service: "users",
                         instance: "users.1", target: "/users/42", start: t0 + 2 * ms, duration: 30 * ms),
            // Trace B, its child recorded before its root (the inner hop finishes first).
            Fixtures.hop(trace: traceB, span: "b000000000000003", parent: "b000000000000002", service: "orders",
                         instance: "orders.1", method: "POST", target: "/orders", status: 500,
                         start: t0 + Fixtures.second + 2 * ms, duration: 5 * ms),
            Fixtures.hop(trace: traceB, span: "b000000000000002", parent: "b000000000000001", listener: "egress",
                         service: "web", upstream: "orders", method: "POST", target: "/orders", status: 500,
                         start: t0 + Fixtures.second + 1 * ms, duration: 8 * ms),
            Fixtures.hop(trace: traceB, span: "b000000000000001", parent: nil, service: "web", instance: "web.1",
                         method: "POST", target: "/orders", status: 404, start: t0 + Fixtures.second, duration: 20 * ms),
        ]
    }

    @Test func traceListFromHops() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let t0 = Fixtures.nowNanos() - 60 * Fixtures.second
            for hop in Self.twoTraces(at: t0) { writer.record(hop: hop) }
            await writer.finish()

            #expect(writer.telemetryCounters.spans == 6)
            #expect(writer.telemetryCounters.dropped == 0)
            #expect(try db.spanCount() == 6)
            let traces = try db.traces(TraceFilter())
            try #require(traces.count == 2)
            let b = traces[0], a = traces[1]
            #expect(b.traceID == Self.traceB, "newest first")
            #expect(a.traceID == Self.traceA)

            #expect(a == TraceSummary(traceID: Self.traceA, startNanos: t0, durationNanos: 50 * Fixtures.ms, spanCount: 3,
                                      errorCount: 0, rootService: "web", rootName: "GET /users/42", method: "GET",
                                      path: "/users/42", statusCode: 200, services: ["users", "web"]))
            // The root arrived last, and still is the root; 500s on the client and server hops are errors.
            #expect(b == TraceSummary(traceID: Self.traceB, startNanos: t0 + Fixtures.second, durationNanos: 20 * Fixtures.ms,
                                      spanCount: 3, errorCount: 2, rootService: "web", rootName: "POST /orders",
                                      method: "POST", path: "/orders", statusCode: 404, services: ["orders", "web"]))
        }
    }

    @Test func traceDetail() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let t0 = Fixtures.nowNanos() - 60 * Fixtures.second
            let hops = Self.twoTraces(at: t0)
            for hop in hops { writer.record(hop: hop) }
            await writer.finish()

            let detail = try #require(try db.trace(Self.traceA))
            #expect(detail.traceID == Self.traceA)
            #expect(detail.spans.map(\.spanID) == ["a000000000000001", "a000000000000002", "a000000000000003"])
            #expect(detail.spans.map(\.startNanos) == [t0, t0 + Fixtures.ms, t0 + 2 * Fixtures.ms])
            #expect(detail.logs.isEmpty)

            let root = detail.spans[0]
            #expect(root.parentSpanID == nil)
            #expect(root.name == "GET /users/42")
            #expect(root.kind == .server)
            #expect(root.service == "web")
            #expect(root.instance == "web.1")
            #expect(root.durationNanos == 50 * Fixtures.ms)
            #expect(root.status == .unset)
            #expect(root.attributes["http.response.status_code"] == .int(200))
            #expect(root.attributes["devmesh.listener"] == .string("inbound"))
            #expect(root.attributes["http.request.method"] == .string("GET"))
            #expect(root.attributes["url.path"] == .string("/users/42"))
            #expect(root.attributes["url.query"] == .string("verbose=1"))
            #expect(root.attributes["network.protocol.version"] == .string("1.1"))
            #expect(root.attributes["user_agent.original"] == .string("curl/8.5"))
            #expect(root.attributes["error.type"] == nil)

            let egress = detail.spans[1]
            #expect(egress.kind == .client)
            #expect(egress.parentSpanID == "a000000000000001")
            #expect(egress.attributes["devmesh.listener"] == .string("egress"))
            #expect(egress.attributes["peer.service"] == .string("users"))
            #expect(egress.attributes["devmesh.upstream"] == .string("users.1"))
            #expect(egress.attributes["network.peer.port"] == .int(40001))
            #expect(egress.attributes["url.query"] == nil)

            // The stored hop reads back as the span the sidecar's model makes of it.
            for (hop, span) in zip(hops.prefix(3), detail.spans) {
                let model = TelemetrySpan(hop.span())
                #expect(span.attributes.mapValues(\.text) == model.attributes.mapValues(\.text), "\(hop.spanID)")
                #expect(span.status == model.status)
                #expect(span.name == model.name)
            }

            let failing = try #require(try db.trace(Self.traceB))
            #expect(failing.spans.map(\.spanID) == ["b000000000000001", "b000000000000002", "b000000000000003"])
            #expect(failing.spans[2].status == .error)
            #expect(failing.spans[2].attributes["error.type"] == .string("500"))
            #expect(failing.spans[0].status == .unset, "a server 404 is not an error")
        }
    }

    @Test func traceByPrefixAndUnknownIDs() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let t0 = Fixtures.nowNanos()
            for hop in Self.twoTraces(at: t0) { writer.record(hop: hop) }
            // Two traces sharing their first 8 digits: the prefix is ambiguous.
            for (n, trace) in ["deadbeef00000000000000000000000a", "deadbeef00000000000000000000000b"].enumerated() {
                writer.record(hop: Fixtures.hop(trace: trace, span: Fixtures.id(n + 1, length: 16, salt: "d"), parent: nil,
                                                service: "web", target: "/x", start: t0))
            }
            await writer.finish()

            #expect(try db.trace(String(Self.traceA.prefix(8)))?.traceID == Self.traceA)
            #expect(try db.trace(String(Self.traceB.prefix(12)).uppercased())?.traceID == Self.traceB)
            #expect(try db.trace(Self.traceA.uppercased())?.spans.count == 3)
            #expect(try db.trace(String(Self.traceA.prefix(7))) == nil, "fewer than 8 digits")
            #expect(try db.trace("deadbeef") == nil, "ambiguous prefix")
            #expect(try db.trace("deadbeef00000000000000000000000a")?.spans.count == 1)
            #expect(try db.trace("0123456789abcdef0123456789abcdef") == nil)
            #expect(try db.trace("01234567") == nil)
            #expect(try db.trace("not-hex!") == nil)
            #expect(try db.trace("") == nil)
        }
    }

    /// Root paths of the filter fixture, oldest first (one trace each, a second apart).
    static let filterPaths = ["/users/1", "/usersx", "/users", "/orders/7", "/api/v1/items/9/detail"]

    @Test func traceFilters() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let t0 = Fixtures.nowNanos() - 3600 * Fixtures.second
            var ids: [String] = []
            for (i, path) in Self.filterPaths.enumerated() {
                let trace = Fixtures.id(i + 1, length: 32, salt: "f\(i + 1)")
                ids.append(trace)
                let start = t0 + UInt64(i) * Fixtures.second
                let rootSpan = Fixtures.id(i + 1, length: 16, salt: "1")
                let status = path == "/orders/7" ? 404 : 200
                let duration = path == "/users/1" ? 50 * Fixtures.ms : (path == "/orders/7" ? 20 * Fixtures.ms : 5 * Fixtures.ms)
                writer.record(hop: Fixtures.hop(trace: trace, span: rootSpan, parent: nil, service: "web", target: path,
                                                status: status, start: start, duration: duration))
                if path == "/users/1" {
                    writer.record(hop: Fixtures.hop(trace: trace, span: Fixtures.id(i + 1, length: 16, salt: "2"), parent: rootSpan,
                                                    service: "users", target: path, start: start + Fixtures.ms, duration: Fixtures.ms))
                }
                if path == "/orders/7" {
                    writer.record(hop: Fixtures.hop(trace: trace, span: Fixtures.id(i + 1, length: 16, salt: "2"), parent: rootSpan,
                                                    listener: "egress", service: "web", upstream: "orders", target: path,
                                                    status: 503, error: "upstream-refused", start: start + Fixtures.ms,
                                                    duration: Fixtures.ms))
                }
            }
            await writer.finish()

            func paths(_ filter: TraceFilter) throws -> [String] {
                try db.traces(filter).map { $0.path ?? "nil" }
            }
            let all = Array(Self.filterPaths.reversed())
            #expect(try paths(TraceFilter()) == all)
            #expect(try paths(TraceFilter(service: "web")) == all)
            #expect(try paths(TraceFilter(service: "users")) == ["/users/1"])
            #expect(try paths(TraceFilter(service: "use")) == [], "a service name matches whole")
            #expect(try paths(TraceFilter(service: "orders")) == [], "the egress hop's service is web")
            #expect(try paths(TraceFilter(path: "/users")) == ["/users", "/users/1"])
            #expect(try paths(TraceFilter(path: "/users/")) == ["/users", "/users/1"])
            #expect(try paths(TraceFilter(path: "/usersx")) == ["/usersx"])
            #expect(try paths(TraceFilter(path: "/")) == all)
            #expect(try paths(TraceFilter(path: "/api/*/items/*")) == ["/api/v1/items/9/detail"])
            #expect(try paths(TraceFilter(path: "/users/?")) == ["/users/1"])
            #expect(try paths(TraceFilter(path: "/nothing")) == [])
            #expect(try paths(TraceFilter(status: .error)) == ["/orders/7"])
            #expect(try paths(TraceFilter(status: .code(404))) == ["/orders/7"])
            #expect(try paths(TraceFilter(status: .code(200))) == ["/api/v1/items/9/detail", "/users", "/usersx", "/users/1"])
            #expect(try paths(TraceFilter(status: .code(503))) == [], "the status is the root's")
            #expect(try paths(TraceFilter(minDurationNanos: 20 * Fixtures.ms)) == ["/orders/7", "/users/1"])
            #expect(try paths(TraceFilter(sinceNanos: t0 + 2 * Fixtures.second)) == ["/api/v1/items/9/detail", "/orders/7", "/users"])
            #expect(try paths(TraceFilter(limit: 2)) == ["/api/v1/items/9/detail", "/orders/7"])
            #expect(try paths(TraceFilter(service: "web", path: "/users", status: .code(200), limit: 1)) == ["/users"])

            let orders = try #require(try db.traces(TraceFilter(status: .error)).first)
            #expect(orders.errorCount == 1)
            #expect(orders.spanCount == 2)
            #expect(orders.statusCode == 404)
            #expect(orders.traceID == ids[3])
        }
    }

    /// HTTP paths are case-sensitive, and so are the exact match and the glob: the prefix match
    /// must be too (`/users` finds `/Users/1` but not `/Users` otherwise).
    @Test func pathPrefixIsCaseSensitive() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let t0 = Fixtures.nowNanos()
            for (i, path) in ["/Users", "/Users/1", "/users/2"].enumerated() {
                writer.record(hop: Fixtures.hop(trace: Fixtures.id(i + 1, length: 32, salt: "e"), span: Fixtures.id(i + 1, length: 16),
                                                parent: nil, service: "web", target: path, start: t0 + UInt64(i) * Fixtures.ms))
            }
            await writer.finish()
            #expect(try db.traces(TraceFilter(path: "/users")).map(\.path) == ["/users/2"])
            #expect(try db.traces(TraceFilter(path: "/users/*")).map(\.path) == ["/users/2"])
        }
    }
}
