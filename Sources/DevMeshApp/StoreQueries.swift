import DevMeshCore
import DevMeshStore
import Foundation
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

    func traffic(sinceNanos: UInt64) async throws -> [String: TrafficMetrics] {
        let database = writer.database
        let now = UInt64(Date().timeIntervalSince1970 * 1e9)
        return try await NIOThreadPool.singleton.runIfActive { try database.traffic(sinceNanos: sinceNanos, nowNanos: now) }
    }

    func graph(sinceNanos: UInt64) async throws -> ServiceGraph {
        let database = writer.database
        let now = UInt64(Date().timeIntervalSince1970 * 1e9)
        return try await NIOThreadPool.singleton.runIfActive { try database.graph(sinceNanos: sinceNanos, nowNanos: now) }
    }

    func policyDecisions(_ filter: PolicyDecisionFilter) async throws -> [PolicyDecisionRecord] {
        let database = writer.database
        return try await NIOThreadPool.singleton.runIfActive { try database.policyDecisions(filter) }
    }

    func lastLogID() async throws -> Int64 {
        let database = writer.database
        return try await NIOThreadPool.singleton.runIfActive { try database.lastLogID() }
    }

    func waitForLogs(after id: Int64, timeout: Duration) async {
        await writer.waitForLogs(after: id, timeout: timeout)
    }
}
