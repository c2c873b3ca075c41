import DevMeshCore
import Foundation
import GRDB

/// `recordings`: one recorded (redacted) exchange a row.
enum RecordingRow {
    static func insert(_ e: RecordedExchange, run: Int64?, db: Database) throws {
        try db.execute(sql: """
            INSERT INTO recordings (run_id, time_ns, trace_id, span_id, service, listener, source, method, target,
                request_headers, request_body, request_size, status, response_headers, response_body, response_size,
                duration_ns, redactions, redacted)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
                run, Int64(clamping: e.timeNanos), e.traceID, e.spanID, e.service, e.listener, e.source, e.method, e.target,
                headersJSON(e.request.headers), Data(e.request.body), e.request.size, e.status,
                headersJSON(e.response.headers), Data(e.response.body), e.response.size,
                Int64(clamping: e.durationNanos), e.redactions, e.redacted,
            ])
    }

    static func headersJSON(_ headers: [(name: String, value: String)]) -> String {
        let pairs = headers.map { [$0.name, $0.value] }
        return (try? JSONSerialization.data(withJSONObject: pairs)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    static func headers(_ json: String?) -> [(name: String, value: String)] {
        guard let data = json?.data(using: .utf8), let pairs = try? JSONSerialization.jsonObject(with: data) as? [[String]] else { return [] }
        return pairs.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
    }

    static func exchange(_ row: Row) -> RecordedExchange {
        RecordedExchange(
            id: row["id"], timeNanos: UInt64(max(0, row["time_ns"] as Int64)), traceID: row["trace_id"], spanID: row["span_id"],
            service: row["service"], listener: row["listener"], source: row["source"], method: row["method"], target: row["target"],
            request: .init(headers: headers(row["request_headers"]), body: [UInt8]((row["request_body"] as Data?) ?? Data()),
                           size: row["request_size"]),
            status: row["status"],
            response: .init(headers: headers(row["response_headers"]), body: [UInt8]((row["response_body"] as Data?) ?? Data()),
                            size: row["response_size"]),
            durationNanos: UInt64(max(0, row["duration_ns"] as Int64)), redactions: row["redactions"],
            redacted: (row["redacted"] as Bool?) ?? true)
    }
}

extension TelemetryDatabase {
    /// Recorded exchanges, newest first; bodies included (they are capped when recorded).
    public func recordings(_ filter: RecordingFilter) throws -> [RecordedExchange] {
        try recordings(filter, columns: "*").map(RecordingRow.exchange)
    }

    func recordings(_ filter: RecordingFilter, columns: String) throws -> [Row] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let service = filter.service {
            conditions.append("service = ?")
            _ = arguments.append(contentsOf: [service])
        }
        if let path = filter.path {
            conditions.append("(target = ? OR target LIKE ? ESCAPE '\\')")
            _ = arguments.append(contentsOf: [path, Self.likeEscaped(path) + "%"])
        }
        if let since = filter.sinceNanos {
            conditions.append("time_ns >= ?")
            _ = arguments.append(contentsOf: [Int64(clamping: since)])
        }
        _ = arguments.append(contentsOf: [max(1, min(filter.limit, 1000))])
        let clause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try pool.read { db in
            // A database written by a devmesh before recordings, opened read-only: none yet.
            guard try db.tableExists("recordings") else { return [] }
            return try Row.fetchAll(db, sql: "SELECT \(columns) FROM recordings \(clause) ORDER BY id DESC LIMIT ?", arguments: arguments)
        }
    }

    /// Recordings newest first, without their bodies (a list; sizes and truncation still told).
    public func recordingSummaries(_ filter: RecordingFilter) throws -> [RecordingSummary] {
        try recordings(filter, columns: """
            id, run_id, time_ns, trace_id, span_id, service, listener, source, method, target, request_headers,
            substr(request_body, 1, 0) AS request_body, request_size, status, response_headers,
            substr(response_body, 1, 0) AS response_body, response_size, duration_ns, redactions,
            redacted, length(request_body) AS request_kept, length(response_body) AS response_kept
            """).map { row in
            var summary = RecordingSummary(RecordingRow.exchange(row))
            summary.requestTruncated = summary.requestSize > ((row["request_kept"] as Int?) ?? 0)
            summary.responseTruncated = summary.responseSize > ((row["response_kept"] as Int?) ?? 0)
            return summary
        }
    }

    /// One recorded exchange by id.
    public func recording(id: Int64) throws -> RecordedExchange? {
        try pool.read { db in
            guard try db.tableExists("recordings") else { return nil }
            return try Row.fetchOne(db, sql: "SELECT * FROM recordings WHERE id = ?", arguments: [id]).map(RecordingRow.exchange)
        }
    }
}
