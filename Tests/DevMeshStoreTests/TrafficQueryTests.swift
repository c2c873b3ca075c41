import DevMeshCore
@testable import DevMeshStore
import Foundation
import Testing

/// The overview's traffic numbers, the service map, and the trace search's newer filters
/// (max duration, until, attributes) against a real store file.
@Suite struct TrafficQueryTests {
    /// `count` gateway → frontend → (egress) → users requests, one trace each, 10 ms apart, the
    /// users hop taking `i` ms; every fifth answered 500.
    static func stack(_ writer: TelemetryWriter, count: Int, start t0: UInt64, salt: String = "a") {
        let ms = Fixtures.ms
        for i in 1...count {
            let trace = Fixtures.id(i, length: 32, salt: salt)
            let g = Fixtures.id(i, length: 16, salt: salt + "c"), f = Fixtures.id(i, length: 16, salt: salt + "d")
            let e = Fixtures.id(i, length: 16, salt: salt + "e"), u = Fixtures.id(i, length: 16, salt: salt + "f")
            let start = t0 + UInt64(i) * 10 * ms
            let status = i % 5 == 0 ? 500 : 200
            writer.record(hop: Fixtures.hop(trace: trace, span: g, parent: nil, listener: "gateway", service: "devmesh-gateway", upstream: "frontend",
                                            target: "/api/users/\(i)", status: status, start: start, duration: UInt64(i + 2) * ms))
            writer.record(hop: Fixtures.hop(trace: trace, span: f, parent: g, service: "frontend", instance: "frontend.1",
                                            target: "/api/users/\(i)", status: status, start: start, duration: UInt64(i + 1) * ms))
            writer.record(hop: Fixtures.hop(trace: trace, span: e, parent: f, listener: "egress", service: "frontend", upstream: "users",
                                            target: "/users/\(i)", status: status, start: start, duration: UInt64(i) * ms))
            writer.record(hop: Fixtures.hop(trace: trace, span: u, parent: e, service: "users", instance: "users.1",
                                            target: "/users/\(i)", status: status, start: start, duration: UInt64(i) * ms))
        }
    }

    @Test func trafficCountsInboundHopsPerService() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let now = Fixtures.nowNanos()
            // Ten old requests (before the window) and twenty in it.
            Self.stack(writer, count: 10, start: now - 600 * Fixtures.second)
            Self.stack(writer, count: 20, start: now - 30 * Fixtures.second, salt: "b")
            // users' app also traces itself: its server span is the same request as the inbound hop.
            let own = TelemetrySpan(traceID: Fixtures.id(1, length: 32, salt: "b"), spanID: Fixtures.id(1, length: 16, salt: "cc"),
                                    parentSpanID: Fixtures.id(1, length: 16, salt: "bf"), service: "users", instance: nil, kind: .server,
                                    name: "GET /users/{id}", startNanos: now - 20 * Fixtures.second, durationNanos: Fixtures.ms, status: .ok)
            #expect(await writer.storeAcknowledged(spans: [own], logs: []))
            await writer.finish()

            let traffic = try db.traffic(sinceNanos: now - 60 * Fixtures.second, nowNanos: now)
            #expect(Set(traffic.keys) == ["devmesh-gateway", "frontend", "users"], "egress hops are calls, not requests served")
            let users = try #require(traffic["users"])
            #expect(users.requests == 20)
            #expect(users.errors == 4)
            #expect(users.errorRate == 0.2)
            #expect(abs(users.rps - 20.0 / 60.0) < 0.001)
            #expect(users.p50Nanos == 10 * Fixtures.ms)
            #expect(users.p99Nanos == 20 * Fixtures.ms)
            #expect(traffic["frontend"]?.requests == 20, "the inbound hop only: the service listener's hop would count it twice")
            #expect(try db.traffic(sinceNanos: now + Fixtures.second, nowNanos: now + 2 * Fixtures.second).isEmpty)

            // Under load only the newest traces are read, and the rate is over the time they cover:
            // the newest 5 started 150 ms apart... 40 ms apart (10 ms steps) from 30 s ago.
            let capped = try db.traffic(sinceNanos: now - 60 * Fixtures.second, nowNanos: now, traceCap: 5)
            #expect(capped["users"]?.requests == 5)
            let covered = Double(now - (now - 30 * Fixtures.second + 160 * Fixtures.ms)) / 1e9
            #expect(abs((capped["users"]?.rps ?? 0) - 5 / covered) < 0.01)
            #expect(try db.graph(sinceNanos: now - 60 * Fixtures.second, nowNanos: now, traceCap: 5).truncated)
        }
    }

    @Test func trafficOfAppsOutsideTheMeshComesFromTheirServerSpans() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let now = Fixtures.nowNanos()
            let spans = (1...4).map { i in
                TelemetrySpan(traceID: Fixtures.id(i, length: 32, salt: "0"), spanID: Fixtures.id(i, length: 16, salt: "0"), parentSpanID: nil,
                              service: "billing", instance: nil, kind: i == 4 ? .internal : .server, name: "charge",
                              startNanos: now - UInt64(i) * Fixtures.second, durationNanos: UInt64(i) * Fixtures.ms,
                              status: i == 1 ? .error : .ok)
            }
            #expect(await writer.storeAcknowledged(spans: spans, logs: []))
            await writer.finish()
            let billing = try #require(try db.traffic(sinceNanos: now - 60 * Fixtures.second, nowNanos: now)["billing"])
            #expect(billing.requests == 3, "server spans only")
            #expect(billing.errors == 1)
        }
    }

    @Test func graphEdgesJoinCallersAndCallees() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let now = Fixtures.nowNanos()
            Self.stack(writer, count: 10, start: now - 30 * Fixtures.second)
            // Two apps outside the mesh, traced with OTLP: billing calls ledger directly.
            let trace = Fixtures.id(7, length: 32, salt: "b1")
            let spans = [
                TelemetrySpan(traceID: trace, spanID: Fixtures.id(1, length: 16, salt: "b1"), parentSpanID: nil, service: "billing",
                              instance: nil, kind: .server, name: "charge", startNanos: now - Fixtures.second, durationNanos: 9 * Fixtures.ms, status: .ok),
                TelemetrySpan(traceID: trace, spanID: Fixtures.id(2, length: 16, salt: "b1"), parentSpanID: Fixtures.id(1, length: 16, salt: "b1"),
                              service: "ledger", instance: nil, kind: .server, name: "post", startNanos: now - Fixtures.second,
                              durationNanos: 4 * Fixtures.ms, status: .error),
            ]
            #expect(await writer.storeAcknowledged(spans: spans, logs: []))
            await writer.finish()
            let graph = try db.graph(sinceNanos: now - 60 * Fixtures.second, nowNanos: now)
            #expect(graph.edges.map { "\($0.from)→\($0.to)" } == ["billing→ledger", "devmesh-gateway→frontend", "frontend→users"])
            #expect(graph.edges.first == ServiceGraph.Edge(from: "billing", to: "ledger", calls: 1, errors: 1, p50Nanos: 4 * Fixtures.ms))
            let users = try #require(graph.edges.last)
            #expect(users.calls == 10)
            #expect(users.errors == 2)
            #expect(users.p50Nanos == 5 * Fixtures.ms)
            #expect(graph.nodes.map(\.name) == ["billing", "devmesh-gateway", "frontend", "ledger", "users"])
            #expect(graph.nodes.last?.requests == 10)
            #expect(!graph.truncated)
            #expect(try db.graph(sinceNanos: now + Fixtures.second, nowNanos: now + 2 * Fixtures.second).edges.isEmpty)
        }
    }

    @Test func traceSearchByDurationRangeTimeRangeAndAttributes() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let t0 = Fixtures.nowNanos() - 60 * Fixtures.second
            Self.stack(writer, count: 10, start: t0)
            // An app's own span with typed attributes, in a trace of its own.
            let app = TelemetrySpan(traceID: Fixtures.id(99, length: 32, salt: "ab"), spanID: Fixtures.id(99, length: 16, salt: "ab"),
                                    parentSpanID: nil, service: "billing", instance: nil, kind: .server, name: "charge",
                                    startNanos: t0 + 500 * Fixtures.ms, durationNanos: Fixtures.ms, status: .ok,
                                    attributes: ["http.route": "/charge/{id}", "retries": .int(3), "cached": .bool(true),
                                                 "user_agent.original": "curl/8", "quote\"key": "x"])
            #expect(await writer.storeAcknowledged(spans: [app], logs: []))
            await writer.finish()

            func paths(_ filter: TraceFilter) throws -> [String] { try db.traces(filter).map { $0.path ?? $0.rootName } }
            let ms = Fixtures.ms
            #expect(try paths(TraceFilter(minDurationNanos: 5 * ms, maxDurationNanos: 7 * ms)) == ["/api/users/5", "/api/users/4", "/api/users/3"])
            #expect(try paths(TraceFilter(sinceNanos: t0 + 25 * ms, untilNanos: t0 + 45 * ms)) == ["/api/users/4", "/api/users/3"])
            func attr(_ key: String, _ value: String) -> TraceFilter { TraceFilter(attributes: [.init(key: key, value: value)]) }
            #expect(try paths(attr("url.path", "/users/7")) == ["/api/users/7"], "a hop's path, without its query")
            #expect(try paths(attr("http.response.status_code", "500")) == ["/api/users/10", "/api/users/5"])
            #expect(try paths(attr("devmesh.listener", "gateway")).count == 10)
            #expect(try paths(attr("http.route", "/charge/{id}")) == ["/charge/{id}"], "an app's string attribute")
            #expect(try paths(attr("retries", "3")) == ["/charge/{id}"], "an integer, compared as text")
            #expect(try paths(attr("cached", "true")) == ["/charge/{id}"])
            #expect(try paths(attr("cached", "false")) == [])
            #expect(try paths(attr("user_agent.original", "curl/8")) == ["/charge/{id}"], "a column name's attribute, sent by an app")
            #expect(try paths(attr("http.route", "/nope")) == [])
            var both = attr("url.path", "/users/5")
            both.attributes.append(.init(key: "http.response.status_code", value: "500"))
            #expect(try paths(both) == ["/api/users/5"])
            both.attributes[1].value = "200"
            #expect(try paths(both) == [])
        }
    }
}
