import DevMeshCore
import Foundation
import GRDB

/// `.devmesh/devmesh.db`: one SQLite file per stack, in WAL mode with `synchronous=NORMAL`.
///
/// Durability: a transaction that committed survives a crash or `kill -9` of devmesh (the WAL is
/// in the OS's page cache); a power cut or kernel crash may lose the last moments of telemetry,
/// never corrupt the file. Readers (the CLI, the API) never block the writer, nor it them.
public final class TelemetryDatabase: Sendable {
    public let path: String
    let pool: DatabasePool

    public enum OpenError: Error, CustomStringConvertible {
        case missing(String)
        case unusable(String, underlying: String)

        public var description: String {
            switch self {
            case .missing(let path): return "no telemetry database at \(path) (has the stack run here?)"
            case .unusable(let path, let underlying): return "cannot use the telemetry database \(path): \(underlying)"
            }
        }
    }

    /// Opens (creating if needed) and migrates the database.
    public static func open(path: String) throws -> TelemetryDatabase {
        do {
            try prepareNewFile(path)
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                // The writer's random index inserts (trace ids) stay in memory instead of
                // re-reading pages from the OS: 4 MiB of cache per connection.
                try db.execute(sql: "PRAGMA cache_size = -4096")
                // Checkpoint every ~40 MB of WAL instead of every 4 MB: a page the writer dirties
                // again and again (an index leaf) is copied back once per checkpoint, and the
                // checkpoint's fsync happens a tenth as often.
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 10000")
                db.add(function: TraceRollup.mergeServices)
            }
            let pool = try DatabasePool(path: path, configuration: configuration)
            try TelemetrySchema.migrator.migrate(pool)
            return TelemetryDatabase(path: path, pool: pool)
        } catch let error as DatabaseError {
            throw OpenError.unusable(path, underlying: error.message ?? "\(error)")
        }
    }

    /// Opens an existing database for reading only (the CLI when no stack runs).
    public static func openReadOnly(path: String) throws -> TelemetryDatabase {
        guard FileManager.default.fileExists(atPath: path) else { throw OpenError.missing(path) }
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(5)
            let pool = try DatabasePool(path: path, configuration: configuration)
            let applied = try pool.read { try TelemetrySchema.migrator.appliedIdentifiers($0) }
            guard applied.contains("v1-telemetry") else {
                throw OpenError.unusable(path, underlying: "it has no telemetry tables")
            }
            return TelemetryDatabase(path: path, pool: pool)
        } catch let error as DatabaseError {
            throw OpenError.unusable(path, underlying: error.message ?? "\(error)")
        }
    }

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    /// `auto_vacuum` can only be chosen before the first table exists, and before WAL mode is set
    /// (SQLite ignores it afterwards): so a new file gets both here, in that order, mode 0600.
    private static func prepareNewFile(_ path: String) throws {
        let existing = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        guard existing == nil || existing == 0 else { return }
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { _ = Foundation.close(fd) }
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            try db.execute(sql: "PRAGMA journal_mode = WAL")
        }
        try queue.close()
    }

    /// The settings that make the durability guarantee, read back from SQLite (tests and `status`).
    public struct Settings: Sendable, Equatable, Codable {
        public var journalMode: String
        /// 0 OFF, 1 NORMAL, 2 FULL.
        public var synchronous: Int
        /// 0 NONE, 1 FULL, 2 INCREMENTAL.
        public var autoVacuum: Int
    }

    public func settings() throws -> Settings {
        try pool.write { db in
            Settings(journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                     synchronous: try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1,
                     autoVacuum: try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") ?? -1)
        }
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    public func integrityCheck() throws -> String {
        try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "\n") }
    }

    /// Bytes in use (pages that are not free), the measure retention's size limit applies to.
    public func usedBytes() throws -> Int64 {
        try pool.read { db in try Self.usedBytes(db) }
    }

    static func usedBytes(_ db: Database) throws -> Int64 {
        let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
        let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        let size = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
        return (pages - free) * size
    }

    public func close() throws {
        try pool.close()
    }
}
