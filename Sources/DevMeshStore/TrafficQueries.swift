import DevMeshCore
import GRDB

/// The overview's numbers and the service map, from recent spans. Both read a window of the
/// newest spans only: spans are found through the traces that started in the window (the
/// `traces_by_start` index, then `spans_by_trace` by sequence), never by scanning the table.
extension TelemetryDatabase {
    /// Spans read per query at most: at a laptop's traffic a window holds far fewer; past it the
    /// numbers are those of the newest spans.
    static let windowSpanCap = 200_000

    /// Requests each service served since `sinceNanos`: its inbound sidecar hops (the gateway's
    /// hops for the gateway); an app outside the mesh, its own OTLP server spans.
    public func traffic(sinceNanos: UInt64, nowNanos: UInt64) throws -> [String: TrafficMetrics] {
        let rows = try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT service, listener, duration_ns, status, http_status FROM spans
                WHERE trace_seq >= (SELECT coalesce(min(seq), 9223372036854775807) FROM traces WHERE start_ns >= ?1)
                  AND start_ns >= ?1 AND kind = 2
                  AND (listener IN ('inbound', 'gateway') OR listener IS NULL)
                ORDER BY trace_seq DESC LIMIT ?2
                """, arguments: [Int64(clamping: sinceNanos), Self.windowSpanCap])
        }
        var mesh: [String: (durations: [UInt64], errors: Int)] = [:]
        var otlp: [String: (durations: [UInt64], errors: Int)] = [:]
        for row in rows {
            let service: String = row[0]
            let listener: String? = row[1]
            let duration = UInt64(max(0, row[2] as Int64))
            let status: Int64 = row[3]
            let code: Int64 = row[4] ?? 0
            let failed = status == 2 || code >= 500
            if listener == nil {
                otlp[service, default: ([], 0)].durations.append(duration)
                if failed { otlp[service]!.errors += 1 }
            } else {
                mesh[service, default: ([], 0)].durations.append(duration)
                if failed { mesh[service]!.errors += 1 }
            }
        }
        let seconds = max(1, Double(nowNanos &- min(sinceNanos, nowNanos)) / 1e9)
        var result: [String: TrafficMetrics] = [:]
        for (service, values) in otlp where mesh[service] == nil {
            result[service] = TrafficMetrics(durations: values.durations, errors: values.errors, seconds: seconds)
        }
        for (service, values) in mesh {
            result[service] = TrafficMetrics(durations: values.durations, errors: values.errors, seconds: seconds)
        }
        return result
    }

    /// Calls between services since `sinceNanos`: every span whose parent span (in the same trace)
    /// belongs to another service is a call from the parent's service to the child's.
    public func graph(sinceNanos: UInt64, nowNanos: UInt64) throws -> ServiceGraph {
        let rows = try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT p.service, c.service, c.duration_ns, c.status, c.http_status FROM spans c
                JOIN spans p ON p.trace_seq = c.trace_seq AND p.span_id = c.parent_span_id
                WHERE c.trace_seq >= (SELECT coalesce(min(seq), 9223372036854775807) FROM traces WHERE start_ns >= ?1)
                  AND c.start_ns >= ?1 AND c.parent_span_id IS NOT NULL AND p.service != c.service
                ORDER BY c.trace_seq DESC LIMIT ?2
                """, arguments: [Int64(clamping: sinceNanos), Self.windowSpanCap])
        }
        let calls = rows.map { row in
            let status: Int64 = row[3]
            let code: Int64 = row[4] ?? 0
            return ServiceGraph.Call(from: row[0], to: row[1], durationNanos: UInt64(max(0, row[2] as Int64)),
                                     isError: status == 2 || code >= 500)
        }
        return ServiceGraph(sinceNanos: sinceNanos, calls: calls, traffic: try traffic(sinceNanos: sinceNanos, nowNanos: nowNanos),
                            truncated: rows.count >= Self.windowSpanCap)
    }
}
