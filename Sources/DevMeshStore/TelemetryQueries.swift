import DevMeshCore
import Foundation
import GRDB

/// What the CLI, the API and the web UI ask the store. Every query is bounded (`limit`) and runs
/// on a reader connection: it never waits for the writer, nor makes it wait.
extension TelemetryDatabase {
    /// Newest first (by the trace's earliest span).
    public func traces(_ filter: TraceFilter) throws -> [TraceSummary] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let since = filter.sinceNanos {
            conditions.append("start_ns >= ?")
            _ = arguments.append(contentsOf: [Int64(clamping: since)])
        }
        if let service = filter.service {
            conditions.append("services LIKE ? ESCAPE '\\'")
            _ = arguments.append(contentsOf: ["%," + Self.likeEscaped(service) + ",%"])
        }
        if let path = filter.path {
            if path.contains("*") || path.contains("?") {
                conditions.append("root_path GLOB ?")
                _ = arguments.append(contentsOf: [path])
            } else {
                // A whole-segment prefix: `/users` matches `/users` and `/users/1`, not `/usersx`.
                let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
                conditions.append("(root_path = ? OR root_path GLOB ?)")
                _ = arguments.append(contentsOf: [trimmed, Self.globEscaped(trimmed == "/" ? "" : trimmed) + "/*"])
            }
        }
        switch filter.status {
        case .error?: conditions.append("error_count > 0")
        case .code(let code)?:
            conditions.append("root_status = ?")
            _ = arguments.append(contentsOf: [code])
        case nil: break
        }
        if let min = filter.minDurationNanos {
            conditions.append("end_ns - start_ns >= ?")
            _ = arguments.append(contentsOf: [Int64(clamping: min)])
        }
        if let max = filter.maxDurationNanos {
            conditions.append("end_ns - start_ns <= ?")
            _ = arguments.append(contentsOf: [Int64(clamping: max)])
        }
        if let until = filter.untilNanos {
            conditions.append("start_ns < ?")
            _ = arguments.append(contentsOf: [Int64(clamping: until)])
        }
        for match in filter.attributes {
            // Walks the newest traces first and stops at `limit`: a span lookup per trace by its index.
            let (condition, values) = Self.attributeCondition(match)
            conditions.append("EXISTS (SELECT 1 FROM spans WHERE spans.trace_seq = traces.seq AND \(condition))")
            _ = arguments.append(contentsOf: values)
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = """
            SELECT trace_id, start_ns, end_ns, span_count, error_count, root_service, root_name, root_method, root_path,
                   root_status, services
            FROM traces \(whereClause) ORDER BY start_ns DESC LIMIT \(max(1, min(filter.limit, 10_000)))
            """
        return try pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let start: Int64 = row[1]
                let end: Int64 = row[2]
                let services: String = row[10]
                return TraceSummary(
                    traceID: row[0], startNanos: UInt64(bitPattern: start), durationNanos: UInt64(max(0, end - start)),
                    spanCount: row[3], errorCount: row[4], rootService: row[5], rootName: row[6], method: row[7],
                    path: row[8], statusCode: row[9], services: services.split(separator: ",").map(String.init))
            }
        }
    }

    /// Every span of the trace (by start time) and the logs tied to it; `nil` when unknown.
    /// A unique prefix of at least 8 hex digits finds the trace too (what `traces` prints).
    public func trace(_ id: String) throws -> TraceDetail? {
        let decoder = JSONDecoder()
        return try pool.read { db in
            let wanted = id.lowercased()
            guard wanted.count >= 8, wanted.count <= 32, wanted.allSatisfy(\.isHexDigit) else { return nil }
            let candidates: [Row]
            if let key = TraceKey.key(wanted) {
                candidates = try Row.fetchAll(db, sql: "SELECT seq, trace_id FROM traces WHERE trace_key = ? AND trace_id = ?",
                                              arguments: [key, wanted])
            } else {
                // A prefix (what `traces` prints): rare and interactive, so a scan of the ids will do.
                candidates = try Row.fetchAll(db, sql: "SELECT seq, trace_id FROM traces WHERE substr(trace_id, 1, ?) = ? LIMIT 2",
                                              arguments: [wanted.count, wanted])
            }
            guard candidates.count == 1 else { return nil }
            let traceID: String = candidates[0]["trace_id"]
            let seq: Int64 = candidates[0]["seq"]
            let spans = try Row.fetchAll(db, sql: "SELECT \(SpanRow.selectColumns) FROM spans WHERE trace_seq = ? ORDER BY start_ns, id LIMIT 10000",
                                         arguments: [seq]).map { SpanRow.decode($0, decoder: decoder) }
            guard !spans.isEmpty else { return nil }
            let logs = try Row.fetchAll(db, sql: "SELECT \(LogRow.selectColumns) FROM logs WHERE trace_id = ? ORDER BY id LIMIT 10000",
                                        arguments: [traceID]).map { LogRow.decode($0, decoder: decoder) }
            return TraceDetail(traceID: traceID, spans: spans, logs: logs)
        }
    }

    /// Oldest first: the newest `limit` lines matching, or the first `limit` after `afterID`.
    public func logs(_ filter: LogFilter) throws -> [TelemetryLog] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let after = filter.afterID {
            conditions.append("logs.id > ?")
            _ = arguments.append(contentsOf: [after])
        }
        if !filter.services.isEmpty {
            conditions.append("(service IN (\(filter.services.map { _ in "?" }.joined(separator: ","))) OR instance IN (\(filter.services.map { _ in "?" }.joined(separator: ","))))")
            _ = arguments.append(contentsOf: StatementArguments(filter.services + filter.services))
        }
        if let trace = filter.traceID {
            conditions.append("trace_id = ?")
            _ = arguments.append(contentsOf: [trace.lowercased()])
        }
        if let since = filter.sinceNanos {
            conditions.append("time_ns >= ?")
            _ = arguments.append(contentsOf: [Int64(clamping: since)])
        }
        if let grep = filter.grep, !grep.isEmpty {
            if grep.unicodeScalars.count >= 3 {
                // The trigram index finds substrings (case-insensitively) without scanning.
                conditions.append("logs.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)")
                _ = arguments.append(contentsOf: ["\"" + grep.replacingOccurrences(of: "\"", with: "\"\"") + "\""])
            } else {
                conditions.append("body LIKE ? ESCAPE '\\'")
                _ = arguments.append(contentsOf: ["%" + Self.likeEscaped(grep) + "%"])
            }
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let limit = max(1, min(filter.limit, 100_000))
        let order = filter.afterID == nil ? "DESC" : "ASC"
        let sql = "SELECT \(LogRow.selectColumns) FROM logs \(whereClause) ORDER BY logs.id \(order) LIMIT \(limit)"
        let decoder = JSONDecoder()
        let rows = try pool.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments).map { LogRow.decode($0, decoder: decoder) } }
        return filter.afterID == nil ? rows.reversed() : rows
    }

    /// The newest spans, oldest first (the web UI's live view, tests).
    public func recentSpans(limit: Int = 1000) throws -> [TelemetrySpan] {
        let decoder = JSONDecoder()
        return try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(SpanRow.selectColumns) FROM spans ORDER BY id DESC LIMIT ?", arguments: [max(1, limit)])
                .map { SpanRow.decode($0, decoder: decoder) }.reversed()
        }
    }

    /// The id of the newest log line (where `logs -f` starts following).
    public func lastLogID() throws -> Int64 {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT max(id) FROM logs") ?? 0 }
    }

    public func spanCount() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM spans") ?? 0 }
    }

    public func logCount() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM logs") ?? 0 }
    }

    /// Whether a span with this id is stored (the durability test's probe).
    public func spanIDs(inTrace traceID: String) throws -> Set<String> {
        try pool.read { db in
            Set(try String.fetchAll(db, sql: """
                SELECT span_id FROM spans WHERE trace_seq = (SELECT seq FROM traces WHERE trace_key = ? AND trace_id = ?)
                """, arguments: [TraceKey.key(traceID) ?? 0, traceID]))
        }
    }

    /// A sidecar attribute is a column (`SpanRow`); any other is looked up in the span's typed JSON
    /// attributes, matching a string, an integer or a boolean written as text.
    static func attributeCondition(_ match: TraceFilter.AttributeMatch) -> (String, StatementArguments) {
        let columns = ["http.request.method": "http_method", "server.address": "host", "user_agent.original": "user_agent",
                       "peer.service": "peer_service", "devmesh.upstream": "upstream", "devmesh.source.principal": "source_principal",
                       "devmesh.listener": "listener", "error.type": "error_type", "network.peer.address": "peer_address",
                       "network.protocol.version": "protocol_version"]
        let path = "$.\"" + match.key + "\""
        let json = "(json_extract(attributes, ?) = ? OR CAST(json_extract(attributes, ?) AS TEXT) = ? OR json_extract(attributes, ?) = ?)"
        let jsonArguments: StatementArguments = [path + ".s", match.value, path + ".i", match.value, path + ".b",
                                                 match.value == "true" ? 1 : (match.value == "false" ? 0 : -1)]
        if let column = columns[match.key] {
            return ("(\(column) = ? OR \(json))", [match.value] + jsonArguments)
        }
        switch match.key {
        case "http.response.status_code":
            return ("(http_status = ? OR \(json))", [Int64(match.value) ?? -1] + jsonArguments)
        case "url.path":
            return ("(http_target = ? OR http_target LIKE ? ESCAPE '\\' OR \(json))",
                    [match.value, likeEscaped(match.value) + "?%"] + jsonArguments)
        default:
            return (json, jsonArguments)
        }
    }

    /// GLOB is case-sensitive (LIKE is not): special characters become one-character classes.
    static func globEscaped(_ text: String) -> String {
        var out = ""
        for c in text {
            if c == "*" || c == "?" || c == "[" { out += "[\(c)]" } else { out.append(c) }
        }
        return out
    }

    static func likeEscaped(_ text: String) -> String {
        var out = ""
        for c in text {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
