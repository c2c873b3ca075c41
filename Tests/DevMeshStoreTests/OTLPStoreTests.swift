import DevMeshCore
@testable import DevMeshStore
import Foundation
import Testing

@Suite struct OTLPStoreTests {
    static let trace = TraceQueryTests.traceA

    static func appSpan(at t0: UInt64) -> TelemetrySpan {
        TelemetrySpan(
            traceID: trace, spanID: "c000000000000001", parentSpanID: "a000000000000003", service: "users",
            instance: "users.1", kind: .internal, name: "SELECT users", startNanos: t0 + 3 * Fixtures.ms,
            durationNanos: 10 * Fixtures.ms, status: .error, statusMessage: "deadline exceeded",
            attributes: [
                "db.system": .string("postgresql"),
                "db.rows": .int(3),
                "db.big": .int(Int64.max),
                "cache.hit": .bool(false),
                "ratio": .double(0.25),
                "tags": .array([.string("a"), .int(1), .bool(true)]),
                "nested": .map(["k": .string("v"), "n": .int(-7)]),
                "empty": .string(""),
            ],
            events: [
                SpanEvent(name: "exception", timeNanos: t0 + 5 * Fixtures.ms,
                          attributes: ["exception.type": "TimeoutError", "exception.escaped": .bool(true)]),
                SpanEvent(name: "retry", timeNanos: t0 + 6 * Fixtures.ms),
            ],
            resource: ["deployment.environment": "dev", "process.pid": .int(4242)],
            scope: "io.opentelemetry.jdbc")
    }

    @Test func acknowledgedSpansAreStoredWholeAndJoinTheHopTrace() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let t0 = Fixtures.nowNanos() - 60 * Fixtures.second
            for hop in TraceQueryTests.twoTraces(at: t0) { writer.record(hop: hop) }

            let span = Self.appSpan(at: t0)
            let log = TelemetryLog(timeNanos: t0 + 4 * Fixtures.ms, service: "users", instance: "users.1", stream: "otlp",
                                   severity: "ERROR", body: "query timed out", traceID: Self.trace, spanID: span.spanID,
                                   attributes: ["attempt": .int(2)])
            #expect(await writer.storeAcknowledged(spans: [span], logs: [log]))
            // Acknowledged means committed: visible now, before finish().
            #expect(try db.spanIDs(inTrace: Self.trace).contains(span.spanID))
            await writer.finish()

            let detail = try #require(try db.trace(Self.trace))
            #expect(detail.spans.count == 4)
            let stored = try #require(detail.spans.first { $0.spanID == span.spanID })
            #expect(stored == span)
            #expect(stored.attributes["db.rows"] == .int(3))
            #expect(stored.attributes["cache.hit"] == .bool(false))
            #expect(stored.attributes["ratio"] == .double(0.25))
            #expect(stored.events == span.events)
            #expect(stored.resource == span.resource)
            #expect(stored.statusMessage == "deadline exceeded")
            #expect(detail.logs.count == 1)
            var storedLog = try #require(detail.logs.first)
            #expect(storedLog.id != nil)
            storedLog.id = nil
            #expect(storedLog == log)

            let summary = try #require(try db.traces(TraceFilter(service: "users")).first { $0.traceID == Self.trace })
            #expect(summary.spanCount == 4)
            #expect(summary.errorCount == 1)
            #expect(summary.rootName == "GET /users/42", "the root stays the parentless hop")
            #expect(summary.rootService == "web")
            #expect(summary.path == "/users/42")
            #expect(summary.statusCode == 200)
            #expect(summary.services == ["users", "web"])
            #expect(writer.telemetryCounters.spans == 7)
            #expect(writer.telemetryCounters.logs == 1)
            #expect(writer.telemetryCounters.otlpRejected == 0)
        }
    }

    /// The root's HTTP facts come from whichever semantic conventions the app's SDK follows.
    @Test func oldSemanticConventionsFillTheSummary() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let t0 = Fixtures.nowNanos() - 60 * Fixtures.second
            let legacy = "1e9a000000000000000000000000beef"
            let root = TelemetrySpan(
                traceID: legacy, spanID: "1e9a000000000001", parentSpanID: nil, service: "legacy", instance: nil, kind: .server,
                name: "HTTP POST", startNanos: t0, durationNanos: 30 * Fixtures.ms, status: .unset,
                attributes: ["http.method": "POST", "http.target": "/legacy/items?id=3", "http.status_code": .int(201)])
            let stringStatus = TelemetrySpan(
                traceID: "2e9a000000000000000000000000beef", spanID: "2e9a000000000001", parentSpanID: nil, service: "legacy",
                instance: nil, kind: .server, name: "GET", startNanos: t0 + Fixtures.second, durationNanos: Fixtures.ms,
                status: .error, attributes: ["http.method": "GET", "http.url": "http://legacy:8080/a/b?c=d", "http.status_code": "503"])
            #expect(await writer.storeAcknowledged(spans: [root, stringStatus], logs: []))
            await writer.finish()

            let summaries = try db.traces(TraceFilter(service: "legacy"))
            try #require(summaries.count == 2)
            let first = summaries[1], second = summaries[0]
            #expect(first.traceID == legacy)
            #expect(first.rootName == "HTTP POST")
            #expect(first.method == "POST")
            #expect(first.path == "/legacy/items")
            #expect(first.statusCode == 201)
            #expect(first.errorCount == 0)
            #expect(second.method == "GET")
            #expect(second.path == "/a/b")
            #expect(second.statusCode == 503)
            #expect(second.errorCount == 1)
            #expect(try db.traces(TraceFilter(path: "/legacy")).map(\.traceID) == [legacy])
            #expect(try db.traces(TraceFilter(status: .code(201))).map(\.traceID) == [legacy])
            // The attributes stay as sent (no sidecar attributes are added to app spans).
            #expect(try db.trace(legacy)?.spans.first?.attributes == root.attributes)
        }
    }

    /// A child that arrives first stands in as the root until the parentless span comes.
    @Test func rootArrivingLaterTakesOver() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let t0 = Fixtures.nowNanos() - 60 * Fixtures.second
            let id = "3e9a000000000000000000000000beef"
            let child = TelemetrySpan(traceID: id, spanID: "3e9a000000000002", parentSpanID: "3e9a000000000001", service: "worker",
                                      instance: nil, kind: .client, name: "GET /inner", startNanos: t0 + Fixtures.ms,
                                      durationNanos: Fixtures.ms, status: .unset,
                                      attributes: ["http.request.method": "GET", "url.path": "/inner", "http.response.status_code": .int(204)])
            #expect(await writer.storeAcknowledged(spans: [child], logs: []))
            #expect(try db.traces(TraceFilter()).first?.rootName == "GET /inner")
            let root = TelemetrySpan(traceID: id, spanID: "3e9a000000000001", parentSpanID: nil, service: "api", instance: nil,
                                     kind: .server, name: "GET /outer", startNanos: t0 + 2 * Fixtures.ms, durationNanos: 5 * Fixtures.ms,
                                     status: .unset,
                                     attributes: ["http.request.method": "GET", "url.path": "/outer", "url.query": "q=1",
                                                  "http.response.status_code": .int(200)])
            #expect(await writer.storeAcknowledged(spans: [root], logs: []))
            await writer.finish()
            let summary = try #require(try db.traces(TraceFilter()).first)
            #expect(summary.rootName == "GET /outer")
            #expect(summary.rootService == "api")
            #expect(summary.path == "/outer")
            #expect(summary.statusCode == 200)
            #expect(summary.spanCount == 2)
            #expect(summary.startNanos == t0 + Fixtures.ms)
            #expect(summary.durationNanos == 6 * Fixtures.ms)
            #expect(summary.services == ["api", "worker"])
        }
    }

    /// OpenTelemetry's AnyValue keeps a double a double, even a whole one (`1.0`).
    @Test func wholeDoublesStayDoubles() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let span = TelemetrySpan(traceID: "4e9a000000000000000000000000beef", spanID: "4e9a000000000001", parentSpanID: nil,
                                     service: "app", instance: nil, kind: .internal, name: "work", startNanos: Fixtures.nowNanos(),
                                     durationNanos: 1, status: .ok,
                                     attributes: ["sampling.ratio": .double(1.0), "temperature": .double(-3.0)])
            #expect(await writer.storeAcknowledged(spans: [span], logs: []))
            await writer.finish()
            let stored = try #require(try db.trace(span.traceID)?.spans.first)
            #expect(stored.attributes["sampling.ratio"] == .double(1.0))
            #expect(stored.attributes["temperature"] == .double(-3.0))
            #expect(stored.status == .ok)
        }
    }

    /// An app's span may carry any double as its status code: the writer must not trap on it.
    @Test
    func nonFiniteStatusCodeDoesNotCrashTheWriter() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let spans = [Double.nan, .infinity, 1e300].enumerated().map { i, d in
                TelemetrySpan(traceID: Fixtures.id(i + 1, length: 32, salt: "6e"), spanID: Fixtures.id(1, length: 16), parentSpanID: nil,
                              service: "app", instance: nil, kind: .server, name: "GET", startNanos: Fixtures.nowNanos(),
                              durationNanos: 1, status: .unset, attributes: ["http.status_code": .double(d)])
            }
            #expect(await writer.storeAcknowledged(spans: spans, logs: []))
            await writer.finish()
            #expect(try db.traces(TraceFilter()).map(\.statusCode) == [nil, nil, nil])
        }
    }

    /// Durability smoke: `true` is only answered after the commit, so another connection sees it.
    @Test func acknowledgedMeansVisibleToAnotherConnection() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let reader = try TelemetryDatabase.openReadOnly(path: store.path)
            let t0 = Fixtures.nowNanos()
            for round in 0..<20 {
                let trace = Fixtures.id(round + 1, length: 32, salt: "5e")
                let spans = (0..<25).map { i in
                    TelemetrySpan(traceID: trace, spanID: Fixtures.id(i + 1, length: 16, salt: "5"),
                                  parentSpanID: i == 0 ? nil : Fixtures.id(1, length: 16, salt: "5"), service: "app", instance: nil,
                                  kind: .internal, name: "op \(i)", startNanos: t0 + UInt64(i), durationNanos: 1, status: .unset)
                }
                let log = TelemetryLog(timeNanos: t0, service: "app", instance: nil, stream: "otlp", body: "round \(round)",
                                       traceID: trace)
                let ok = await writer.storeAcknowledged(spans: spans, logs: [log])
                #expect(ok)
                #expect(try reader.spanIDs(inTrace: trace) == Set(spans.map(\.spanID)), "round \(round)")
                #expect(try reader.logs(LogFilter(traceID: trace)).map(\.body) == ["round \(round)"])
                #expect(try reader.trace(trace)?.spans.count == 25)
            }
            await writer.finish()
            try reader.close()
        }
    }
}
