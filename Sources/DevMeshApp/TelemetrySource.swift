import DevMeshCore
import DevMeshStore
import Foundation

/// Where `devmesh traces/trace/logs` read: the running stack's API (PRODUCT.md: commands that
/// read data go through it), or `.devmesh/devmesh.db` directly when nothing runs.
public enum TelemetrySource: Sendable {
    case api(AdminClient)
    case database(TelemetryDatabase)

    public static func open(root: String) throws -> TelemetrySource {
        let directory = StateDirectory(root: root)
        if directory.isLocked(), let state = directory.readState() {
            return .api(AdminClient(state: state))
        }
        let path = directory.path + "/devmesh.db"
        do {
            return .database(try TelemetryDatabase.openReadOnly(path: path))
        } catch TelemetryDatabase.OpenError.missing {
            throw AdminClient.Failure(description: "no telemetry for the stack in \(root) yet (\(path) does not exist)\n  hint: run `devmesh up` there first")
        }
    }

    /// Whether new data can still arrive (`logs -f` follows only a running stack).
    public var isLive: Bool {
        if case .api = self { return true }
        return false
    }

    public func traces(_ filter: TraceFilter) async throws -> [TraceSummary] {
        switch self {
        case .api(let client):
            return try await client.get("/api/v1/traces", query: TelemetryQueryParameters.query(filter), as: [TraceSummary].self) ?? []
        case .database(let db):
            return try db.traces(filter)
        }
    }

    public func trace(_ id: String) async throws -> TraceDetail? {
        switch self {
        case .api(let client):
            return try await client.get("/api/v1/traces/\(id)", as: TraceDetail.self)
        case .database(let db):
            return try db.trace(id)
        }
    }

    /// With `wait` (and `filter.afterID`), the API holds the request until a line comes.
    public func logs(_ filter: LogFilter, wait: Duration? = nil) async throws -> [TelemetryLog] {
        switch self {
        case .api(let client):
            var query = TelemetryQueryParameters.query(filter)
            if let wait { query.append(("wait", DurationParser.format(wait))) }
            return try await client.get("/api/v1/logs", query: query, as: [TelemetryLog].self, timeout: .seconds(60)) ?? []
        case .database(let db):
            return try db.logs(filter)
        }
    }

    // MARK: - Recordings

    public func recordings(_ filter: RecordingFilter) async throws -> [RecordingSummary] {
        switch self {
        case .api(let client):
            struct Listing: Decodable { var requests: [RecordingSummary] }
            return try await client.get("/api/v1/requests", query: Self.query(filter), as: Listing.self)?.requests ?? []
        case .database(let db):
            return try db.recordingSummaries(filter)
        }
    }

    public func recording(_ id: Int64) async throws -> RecordedExchange? {
        switch self {
        case .api(let client):
            return try await client.get("/api/v1/requests/\(id)", as: RecordingDetail.self)?.exchange
        case .database(let db):
            return try db.recording(id: id)
        }
    }

    /// Recordings with their bodies (for HAR): through the API, one detail request each.
    public func fullRecordings(_ filter: RecordingFilter) async throws -> [RecordedExchange] {
        switch self {
        case .api:
            var out: [RecordedExchange] = []
            for summary in try await recordings(filter) {
                if let e = try await recording(summary.id) { out.append(e) }
            }
            return out
        case .database(let db):
            return try db.recordings(filter)
        }
    }

    static func query(_ filter: RecordingFilter) -> [(String, String)] {
        var q: [(String, String)] = [("limit", String(filter.limit))]
        if let service = filter.service { q.append(("service", service)) }
        if let path = filter.path { q.append(("path", path)) }
        if let since = filter.sinceNanos {
            let now = UInt64(Date().timeIntervalSince1970 * 1e9)
            let seconds = max(1, min(7 * 86_400, Int((now > since ? now - since : 0) / 1_000_000_000) + 1))
            q.append(("since", "\(seconds)s"))
        }
        return q
    }
}
