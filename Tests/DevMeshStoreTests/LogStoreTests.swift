import DevMeshCore
@testable import DevMeshStore
import Foundation
import Testing

@Suite struct LogStoreTests {
    static let trace = TraceQueryTests.traceA
    static let span = "a000000000000003"

    /// The fixture's lines, in the order appended (the access line is not stored).
    static func lines() -> [LogLine] {
        [
            Fixtures.line("listening on :8080", service: "web"),
            Fixtures.line("GET /users/42 traceparent=00-\(trace)-\(span)-01 done", service: "users"),
            Fixtures.line("{\"trace_id\": \"\(trace.uppercased())\", \"span_id\": \"\(span)\", \"level\":\"error\", \"msg\":\"DB Timeout\"}",
                          service: "users", stream: .stderr),
            Fixtures.line("GET /users/42 200 1ms", service: "web", stream: .access),
            Fixtures.line("Queue Ok marker XaBy", service: "orders", instance: "orders.2"),
            Fixtures.line("restarting orders.2", service: "devmesh", instance: "devmesh", stream: .devmesh, severity: .warning),
        ]
    }

    static func filled(_ store: TempStore) async throws -> (TelemetryDatabase, TelemetryWriter, [TelemetryLog]) {
        let db = try TelemetryDatabase.open(path: store.path)
        let writer = try Fixtures.writer(db)
        let t0 = Fixtures.nowNanos() - 60 * Fixtures.second
        for hop in TraceQueryTests.twoTraces(at: t0) { writer.record(hop: hop) }
        for line in lines() { writer.append(line) }
        await writer.finish()
        return (db, writer, try db.logs(LogFilter()))
    }

    @Test func linesAreStoredWithTheirTrace() async throws {
        try await TempStore.with { store in
            let (db, writer, logs) = try await Self.filled(store)
            #expect(try db.logCount() == 5, "access lines are not stored")
            #expect(writer.telemetryCounters.logs == 5)
            try #require(logs.count == 5)
            #expect(logs.map(\.body) == Self.lines().filter { $0.stream != .access }.map(\.text))
            let ids = logs.compactMap(\.id)
            #expect(ids.count == 5 && ids == ids.sorted())
            #expect(try db.lastLogID() == ids.last)

            let plain = logs[0]
            #expect(plain.traceID == nil && plain.spanID == nil && plain.severity == nil)
            #expect(plain.service == "web" && plain.instance == "web.1" && plain.stream == "stdout")
            let w3c = logs[1]
            #expect(w3c.traceID == Self.trace)
            #expect(w3c.spanID == Self.span)
            #expect(w3c.severity == nil)
            let json = logs[2]
            #expect(json.traceID == Self.trace, "lowercased")
            #expect(json.spanID == Self.span)
            #expect(json.severity == "ERROR")
            #expect(json.stream == "stderr")
            #expect(logs[4].severity == "WARN")
            #expect(logs[4].stream == "devmesh")
            let now = Fixtures.nowNanos()
            #expect(logs.allSatisfy { $0.timeNanos <= now && $0.timeNanos > now - 600 * Fixtures.second })

            let detail = try #require(try db.trace(Self.trace))
            #expect(detail.logs.map(\.body) == [logs[1].body, logs[2].body])
            #expect(try db.trace(TraceQueryTests.traceB)?.logs == [])
        }
    }

    @Test func logFilters() async throws {
        try await TempStore.with { store in
            let (db, _, logs) = try await Self.filled(store)
            try #require(logs.count == 5)
            func bodies(_ filter: LogFilter) throws -> [String] { try db.logs(filter).map(\.body) }
            let b = logs.map(\.body)

            // Substrings, case-insensitively: the trigram index from 3 characters, LIKE below.
            #expect(try bodies(LogFilter(grep: "db timeout")) == [b[2]])
            #expect(try bodies(LogFilter(grep: "TIMEOUT")) == [b[2]])
            #expect(try bodies(LogFilter(grep: "/users/42")) == [b[1]])
            #expect(try bodies(LogFilter(grep: "xab")) == [b[3]])
            #expect(try bodies(LogFilter(grep: "xA")) == [b[3]])
            #expect(try bodies(LogFilter(grep: "Y")) == [b[3]])
            #expect(try bodies(LogFilter(grep: "ok")) == [b[3]])
            #expect(try bodies(LogFilter(grep: "%")) == [])
            #expect(try bodies(LogFilter(grep: "_")) == [b[2]], "`_` is a character, not a wildcard")
            #expect(try bodies(LogFilter(grep: "\"level\"")) == [b[2]])
            #expect(try bodies(LogFilter(grep: "nowhere")) == [])

            // Services by name or by instance.
            #expect(try bodies(LogFilter(services: ["users"])) == [b[1], b[2]])
            #expect(try bodies(LogFilter(services: ["orders.2"])) == [b[3]])
            #expect(try bodies(LogFilter(services: ["orders"])) == [b[3]])
            #expect(try bodies(LogFilter(services: ["web.1", "devmesh"])) == [b[0], b[4]])
            #expect(try bodies(LogFilter(services: ["nobody"])) == [])

            #expect(try bodies(LogFilter(traceID: Self.trace.uppercased())) == [b[1], b[2]])
            #expect(try bodies(LogFilter(traceID: TraceQueryTests.traceB)) == [])
            #expect(try bodies(LogFilter(services: ["users"], grep: "timeout", traceID: Self.trace)) == [b[2]])

            // Newest N, oldest first; or the first N after an id.
            #expect(try bodies(LogFilter(limit: 2)) == [b[3], b[4]])
            #expect(try bodies(LogFilter(afterID: logs[0].id, limit: 2)) == [b[1], b[2]])
            #expect(try bodies(LogFilter(afterID: logs[2].id)) == [b[3], b[4]])
            #expect(try bodies(LogFilter(afterID: logs[4].id)) == [])
            #expect(try bodies(LogFilter(sinceNanos: logs[4].timeNanos + 1)) == [])
        }
    }

    @Test func waitForLogsReturnsWhenALineIsCommitted() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let clock = ContinuousClock()
            let after = try db.lastLogID()
            let start = clock.now
            async let waited: Void = writer.waitForLogs(after: after, timeout: .seconds(60))
            writer.append(Fixtures.line("wake up", service: "web"))
            await waited
            let elapsed = clock.now - start
            // Well before the 60 s timeout: the commit woke it. (The writer runs at nice 10, so a
            // loaded machine — a CI run with builds beside it — delayed it by 11 s once.)
            #expect(elapsed < .seconds(45), "waited \(elapsed)")
            #expect(try db.logs(LogFilter(afterID: after)).map(\.body) == ["wake up"], "the line is committed when it returns")
            await writer.finish()
        }
    }

    /// A follower waiting before the line is committed is woken by the commit, not before.
    @Test func waitForLogsWakesAWaiterRegisteredBeforeTheCommit() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let gate = WriterGate()
            let writer = try Fixtures.writer(db) { $0.beforeBatch = gate.hook }
            defer { gate.release() }
            writer.append(Fixtures.line("held", service: "web"))
            try #require(await gate.entered(), "the writer took the line and is held")
            let returned = Flag()
            let waiter = Task {
                await writer.waitForLogs(after: 0, timeout: .seconds(60))
                returned.set()
            }
            // A window for a premature return (not synchronisation: the waiter must still be waiting after it).
            try await Task.sleep(for: .milliseconds(200))
            #expect(!returned.isSet, "returned before the line was committed")
            #expect(try db.logCount() == 0)
            let clock = ContinuousClock()
            let start = clock.now
            gate.release()
            await waiter.value
            #expect(clock.now - start < .seconds(30), "woken by the commit, not its 60 s timeout")
            #expect(try db.logs(LogFilter()).map(\.body) == ["held"])
            await writer.finish()
        }
    }

    @Test func waitForLogsTimesOutWhenNothingComes() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            writer.append(Fixtures.line("old news", service: "web"))
            await writer.waitForLogs(after: 0, timeout: .seconds(10))
            let last = try db.lastLogID()
            try #require(last > 0)
            let clock = ContinuousClock()
            let start = clock.now
            await writer.waitForLogs(after: last, timeout: .milliseconds(200))
            let elapsed = clock.now - start
            #expect(elapsed >= .milliseconds(190), "returned after \(elapsed)")
            #expect(elapsed < .seconds(30), "returned after \(elapsed)")
            await writer.finish()
        }
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
