import DevMeshCore
import DevMeshStore
import NIOPosix

/// The admin API's view of the store. Queries block on SQLite, so they run on NIO's thread pool,
/// never on an event loop or the cooperative pool.
struct StoreQueries: TelemetryQuerying {
    let writer: TelemetryWriter

    func traces(_ filter: TraceFilter) async throws -> [TraceSummary] {
        let database = writer.database
        return try await NIOThreadPool.singleton.runIfActive { try database.traces(filter) }
    }

    func trace(_ id: String) async throws -> TraceDetail? {
        let database = writer.database
        return try await NIOThreadPool.singleton.runIfActive { try database.trace(id) }
    }

    func logs(_ filter: LogFilter) async throws -> [TelemetryLog] {
        let database = writer.database
        return try await NIOThreadPool.singleton.runIfActive { try database.logs(filter) }
    }

    func waitForLogs(after id: Int64, timeout: Duration) async {
        await writer.waitForLogs(after: id, timeout: timeout)
    }
}
