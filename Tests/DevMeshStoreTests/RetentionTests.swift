import DevMeshCore
@testable import DevMeshStore
import Foundation
import GRDB
import Testing

@Suite struct RetentionTests {
    static let day: UInt64 = 86_400 * Fixtures.second
    static let oldTrace = "01d0000000000000000000000000000a"
    static let freshTrace = "f5e5000000000000000000000000000b"

    /// Rows arrive in time order: a month-old trace and lines first, then fresh ones.
    static func fillOldAndFresh(_ writer: TelemetryWriter, now: UInt64) async {
        let old = now - 30 * day
        writer.record(hop: Fixtures.hop(trace: oldTrace, span: "01d0000000000001", parent: nil, service: "web",
                                        target: "/ancient", start: old, duration: 5 * Fixtures.ms))
        writer.record(hop: Fixtures.hop(trace: oldTrace, span: "01d0000000000002", parent: "01d0000000000001", service: "users",
                                        target: "/ancient", start: old + Fixtures.ms, duration: Fixtures.ms))
        let oldSeconds = Double(old) / 1e9
        for i in 0..<3 {
            writer.append(Fixtures.line("ancient line \(i) trace_id=\(oldTrace)", service: "web", at: oldSeconds + Double(i)))
        }
        let fresh = now - 60 * Fixtures.second
        writer.record(hop: Fixtures.hop(trace: freshTrace, span: "f5e5000000000001", parent: nil, service: "web",
                                        target: "/fresh", start: fresh, duration: 5 * Fixtures.ms))
        writer.record(hop: Fixtures.hop(trace: freshTrace, span: "f5e5000000000002", parent: "f5e5000000000001", service: "users",
                                        target: "/fresh", start: fresh + Fixtures.ms, duration: Fixtures.ms))
        let freshSeconds = Double(fresh) / 1e9
        for i in 0..<2 {
            writer.append(Fixtures.line("fresh line \(i) trace_id=\(freshTrace)", service: "web", at: freshSeconds + Double(i)))
        }
        await writer.finish()
    }

    static func ftsIntegrity(_ db: TelemetryDatabase) throws {
        try db.pool.write { try $0.execute(sql: "INSERT INTO logs_fts(logs_fts, rank) VALUES ('integrity-check', 1)") }
    }

    @Test func maxAgeRemovesOldRowsAndKeepsFreshOnes() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let now = Fixtures.nowNanos()
            await Self.fillOldAndFresh(try Fixtures.writer(db), now: now)
            try #require(try db.spanCount() == 4)
            try #require(try db.logCount() == 5)
            try #require(try db.traces(TraceFilter()).count == 2)

            let removed = try TelemetryRetention(maxAge: .seconds(86_400)).apply(to: db.pool, nowNanos: now)
            #expect(removed == 2 + 3)
            #expect(try db.spanCount() == 2)
            #expect(try db.logCount() == 2)
            #expect(try db.traces(TraceFilter()).map(\.traceID) == [Self.freshTrace])
            #expect(try db.trace(Self.oldTrace) == nil)
            #expect(try db.trace(Self.freshTrace)?.spans.count == 2)
            #expect(try db.trace(Self.freshTrace)?.logs.count == 2)
            #expect(try db.logs(LogFilter()).map(\.body) == ["fresh line 0 trace_id=\(Self.freshTrace)",
                                                           "fresh line 1 trace_id=\(Self.freshTrace)"])
            // The trigram index forgot the deleted lines too.
            #expect(try db.logs(LogFilter(grep: "ancient")).isEmpty)
            #expect(try db.logs(LogFilter(grep: "fresh line")).count == 2)
            try Self.ftsIntegrity(db)
            #expect(try db.integrityCheck() == "ok")

            // Nothing left to remove: a second pass is a no-op.
            #expect(try TelemetryRetention(maxAge: .seconds(86_400)).apply(to: db.pool, nowNanos: now) == 0)
        }
    }

    /// The writer applies its retention when it starts.
    @Test func writerAppliesRetentionOnStart() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let now = Fixtures.nowNanos()
            await Self.fillOldAndFresh(try Fixtures.writer(db), now: now)
            try #require(try db.spanCount() == 4)
            let writer = try Fixtures.writer(db) { $0.retention = TelemetryRetention() }
            await writer.finish()
            #expect(try db.spanCount() == 2)
            #expect(try db.logCount() == 2)
            #expect(try db.traces(TraceFilter()).map(\.traceID) == [Self.freshTrace])
        }
    }

    @Test func maxBytesKeepsTheNewestAndShrinksTheFile() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let now = Fixtures.nowNanos()
            let count = 3000
            let t0 = now - UInt64(count) * Fixtures.ms - 60 * Fixtures.second
            let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
            for i in 0..<count {
                let trace = Fixtures.id(i + 1, length: 32, salt: "5b")
                let start = t0 + UInt64(i) * Fixtures.ms
                writer.record(hop: Fixtures.hop(trace: trace, span: Fixtures.id(i + 1, length: 16, salt: "5"), parent: nil,
                                                service: "web", target: "/items/\(i)?page=\(i % 7)", start: start))
                let text = (0..<12).map { words[($0 * 7 + i) % words.count] + String(i * 31 + $0) }.joined(separator: " ")
                writer.append(Fixtures.line("line \(i): \(text)", service: "web", at: Double(start) / 1e9))
            }
            await writer.finish()
            try #require(try db.spanCount() == count)
            try #require(try db.logCount() == count)
            let checkpoint = { try db.pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") } }
            try checkpoint()
            let maxBytes: Int64 = 256 * 1024
            let usedBefore = try db.usedBytes()
            let fileBefore = store.fileSize
            try #require(usedBefore > 2 * maxBytes, "the fixture must be well over the limit: \(usedBefore)")

            let removed = try TelemetryRetention(maxAge: .seconds(3650 * 86_400), maxBytes: maxBytes).apply(to: db.pool, nowNanos: now)
            #expect(removed > 0)
            let usedAfter = try db.usedBytes()
            #expect(usedAfter <= maxBytes, "used \(usedAfter) of \(maxBytes)")

            // The newest rows are kept, the oldest gone.
            let lastTrace = Fixtures.id(count, length: 32, salt: "5b")
            #expect(try db.trace(lastTrace)?.spans.count == 1)
            #expect(try db.trace(Fixtures.id(1, length: 32, salt: "5b")) == nil)
            let spans = try db.spanCount(), logs = try db.logCount()
            #expect(spans > 0 && spans < count)
            #expect(logs > 0 && logs < count)
            #expect(try db.logs(LogFilter(limit: 1)).first?.body.hasPrefix("line \(count - 1):") == true)
            #expect(try db.logs(LogFilter(grep: "line 0:")).isEmpty)
            // Every listed trace still has its spans.
            let summaries = try db.traces(TraceFilter(limit: 10_000))
            #expect(summaries.count == spans)
            #expect(try summaries.allSatisfy { try db.trace($0.traceID) != nil })

            // Freed pages went back to the file system.
            try checkpoint()
            let fileAfter = store.fileSize
            #expect(fileAfter < fileBefore, "file \(fileBefore) → \(fileAfter)")
            #expect(fileAfter <= maxBytes + 64 * 1024, "file \(fileAfter)")
            try Self.ftsIntegrity(db)
            #expect(try db.integrityCheck() == "ok")
        }
    }
}
