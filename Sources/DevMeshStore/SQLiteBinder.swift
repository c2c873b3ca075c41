import GRDB
import GRDBSQLite

/// Binds values straight onto a prepared statement and steps it: the writer's hot path, where
/// building `StatementArguments` (an array of boxed values per row) would cost more than the
/// insert itself. Only used on the writer thread, inside `pool.write`.
struct SQLiteBinder {
    let statement: Statement
    private var handle: OpaquePointer { statement.sqliteStatement }
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ statement: Statement) {
        self.statement = statement
    }

    func bind(_ index: Int32, _ value: String?) {
        if let value {
            sqlite3_bind_text(handle, index, value, -1, Self.transient)
        } else {
            sqlite3_bind_null(handle, index)
        }
    }

    func bind(_ index: Int32, _ value: Int64?) {
        if let value {
            sqlite3_bind_int64(handle, index, value)
        } else {
            sqlite3_bind_null(handle, index)
        }
    }

    func bind(_ index: Int32, _ value: Int?) { bind(index, value.map(Int64.init)) }

    func bind(_ index: Int32, _ value: UInt64) { bind(index, Int64(bitPattern: value)) }

    /// Runs a statement that returns one integer (`RETURNING seq`).
    func stepReturningInt64(_ db: Database) throws -> Int64 {
        let code = sqlite3_step(handle)
        let value = code == SQLITE_ROW ? sqlite3_column_int64(handle, 0) : 0
        if code == SQLITE_ROW { _ = sqlite3_step(handle) }
        sqlite3_reset(handle)
        guard code == SQLITE_ROW else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
        return value
    }

    /// Runs the statement once; its bindings are all replaced before the next run.
    func step(_ db: Database) throws {
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }
}
