import DevMeshCore
import Foundation
import GRDB

/// How much telemetry a stack keeps (`telemetry.retention`): spans and logs older than `maxAge`
/// go, and when the file holds more than `maxBytes` the oldest tenth goes, until it fits. Freed
/// pages return to the file system by incremental vacuum (the file shrinks without a full VACUUM
/// locking the writer out).
public struct TelemetryRetention: Sendable, Equatable {
    public static let defaultMaxAge: Duration = .seconds(7 * 24 * 3600)
    public static let defaultMaxBytes: Int64 = 1 << 30

    public var maxAge: Duration
    public var maxBytes: Int64

    public init(maxAge: Duration = defaultMaxAge, maxBytes: Int64 = defaultMaxBytes) {
        self.maxAge = maxAge
        self.maxBytes = maxBytes
    }

    public init(_ config: TelemetryConfig) {
        self.init(maxAge: config.retentionMaxAge ?? Self.defaultMaxAge, maxBytes: config.retentionMaxBytes ?? Self.defaultMaxBytes)
    }

    /// Rows removed.
    @discardableResult
    func apply(to pool: DatabasePool, nowNanos: UInt64) throws -> Int {
        let ageNanos = UInt64(maxAge.components.seconds) * 1_000_000_000 + UInt64(maxAge.components.attoseconds / 1_000_000_000)
        let cutoff = Int64(clamping: nowNanos > ageNanos ? nowNanos - ageNanos : 0)
        var removed = try pool.write { db -> Int in
            var n = try Self.deleteBefore(db, table: "spans", time: "start_ns", cutoff: cutoff)
            n += try Self.deleteBefore(db, table: "logs", time: "time_ns", cutoff: cutoff)
            n += try Self.deleteBefore(db, table: "recordings", time: "time_ns", cutoff: cutoff)
            try db.execute(sql: "DELETE FROM traces WHERE end_ns < ?", arguments: [cutoff])
            return n
        }
        // Deleting from an external-content FTS5 index adds delete markers (it grows) until the
        // index is merged: merge it, or the size limit could never be met.
        if removed > 0 { try Self.optimizeLogIndex(pool) }
        var rounds = 0
        while rounds < 30, try pool.read({ try TelemetryDatabase.usedBytes($0) }) > maxBytes {
            rounds += 1
            let n = try pool.write { db -> Int in
                var n = try Self.deleteOldestTenth(db, table: "spans")
                n += try Self.deleteOldestTenth(db, table: "logs")
                n += try Self.deleteOldestTenth(db, table: "recordings")
                if let oldest = try Int64.fetchOne(db, sql: "SELECT start_ns FROM spans ORDER BY id LIMIT 1") {
                    try db.execute(sql: "DELETE FROM traces WHERE start_ns < ?", arguments: [oldest])
                } else {
                    try db.execute(sql: "DELETE FROM traces")
                }
                return n
            }
            removed += n
            if n == 0 { break }
            try Self.optimizeLogIndex(pool)
        }
        if removed > 0 {
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA incremental_vacuum") }
        }
        return removed
    }

    static func optimizeLogIndex(_ pool: DatabasePool) throws {
        try pool.write { db in try db.execute(sql: "INSERT INTO logs_fts(logs_fts) VALUES ('optimize')") }
    }

    /// Rows arrive in time order (give or take a batch), so the first row young enough to keep
    /// bounds everything older by id: the search walks only the expired rows, no time index needed.
    static func deleteBefore(_ db: Database, table: String, time: String, cutoff: Int64) throws -> Int {
        let firstKept = try Int64.fetchOne(db, sql: "SELECT id FROM \(table) WHERE \(time) >= ? ORDER BY id LIMIT 1", arguments: [cutoff])
        if let firstKept {
            try db.execute(sql: "DELETE FROM \(table) WHERE id < ?", arguments: [firstKept])
        } else {
            try db.execute(sql: "DELETE FROM \(table)")
        }
        return db.changesCount
    }

    static func deleteOldestTenth(_ db: Database, table: String) throws -> Int {
        guard let low = try Int64.fetchOne(db, sql: "SELECT min(id) FROM \(table)"),
              let high = try Int64.fetchOne(db, sql: "SELECT max(id) FROM \(table)") else { return 0 }
        let bound = low + max(1, (high - low + 1) / 10)
        try db.execute(sql: "DELETE FROM \(table) WHERE id < ?", arguments: [bound])
        return db.changesCount
    }
}
