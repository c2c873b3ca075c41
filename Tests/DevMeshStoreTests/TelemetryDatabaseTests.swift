import DevMeshCore
@testable import DevMeshStore
import Foundation
import GRDB
import Testing

@Suite struct TelemetryDatabaseTests {
    @Test func newFileHasTheDurabilitySettings() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            #expect(try db.settings() == TelemetryDatabase.Settings(journalMode: "wal", synchronous: 1, autoVacuum: 2))
            #expect(try db.integrityCheck() == "ok")
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: store.path)[.posixPermissions] as? NSNumber)
            #expect(mode.intValue & 0o777 == 0o600, "mode \(String(mode.intValue, radix: 8))")
            #expect(try db.usedBytes() > 0)
            try db.close()
        }
    }

    @Test func reopeningKeepsDataAndSettings() async throws {
        try await TempStore.with { store in
            let trace = Fixtures.id(1, length: 32, salt: "c0ffee")
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            writer.record(hop: Fixtures.hop(trace: trace, span: Fixtures.id(1, length: 16), parent: nil, service: "web",
                                            target: "/kept", start: Fixtures.nowNanos()))
            writer.append(Fixtures.line("still here", service: "web"))
            await writer.finish()
            try db.close()

            let again = try TelemetryDatabase.open(path: store.path)
            #expect(try again.spanCount() == 1)
            #expect(try again.logCount() == 1)
            #expect(try again.trace(trace)?.spans.first?.name == "GET /kept")
            #expect(try again.settings() == TelemetryDatabase.Settings(journalMode: "wal", synchronous: 1, autoVacuum: 2))
            #expect(try again.integrityCheck() == "ok")
            try again.close()

            let reader = try TelemetryDatabase.openReadOnly(path: store.path)
            #expect(try reader.spanCount() == 1)
            #expect(try reader.logs(LogFilter()).map(\.body) == ["still here"])
            try reader.close()
        }
    }

    @Test func openReadOnlyOnAMissingPathThrowsMissing() async throws {
        try await TempStore.with { store in
            let missing = store.directory.appendingPathComponent("nope.db").path
            let error = #expect(throws: TelemetryDatabase.OpenError.self) {
                _ = try TelemetryDatabase.openReadOnly(path: missing)
            }
            if case .missing(let path)? = error {
                #expect(path == missing)
            } else {
                Issue.record("expected .missing, got \(String(describing: error))")
            }
            #expect(!FileManager.default.fileExists(atPath: missing), "a read-only open must not create the file")
        }
    }

    @Test func openReadOnlyOnAForeignFileIsUnusable() async throws {
        try await TempStore.with { store in
            // A SQLite database without devmesh's tables.
            try DatabaseQueueMaker.plainDatabase(at: store.path)
            let error = #expect(throws: TelemetryDatabase.OpenError.self) {
                _ = try TelemetryDatabase.openReadOnly(path: store.path)
            }
            if case .unusable? = error {} else { Issue.record("expected .unusable, got \(String(describing: error))") }
        }
    }
}

enum DatabaseQueueMaker {
    static func plainDatabase(at path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: "CREATE TABLE t (x INTEGER)") }
        try queue.close()
    }
}
