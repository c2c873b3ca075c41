import DevMeshCore
import GRDB

/// The overview's numbers and the service map, from recent spans. Both read a window of the
/// newest spans only: spans are found through the traces that started in the window (the
/// `traces_by_start` index, then `spans_by_trace` by sequence), never by scanning the table.
/// Counts are exact (aggregated in SQLite); latency percentiles come from the newest
/// `percentileSample` spans of the window, which under heavy load are the last seconds of it.
extension TelemetryDatabase {
    static let percentileSample = 20_000

    /// The first trace of the window: spans of older traces are never read.
    static let windowStart = "(SELECT coalesce(min(seq), 9223372036854775807) FROM traces WHERE start_ns >= ?1)"

    /// Requests each service served since `sinceNanos`: its inbound sidecar hops (the gateway's
    /// hops for the gateway); an app outside the mesh, its own OTLP server spans.
    public func traffic(sinceNanos: UInt64, nowNanos: UInt64) throws -> [String: TrafficMetrics] {
        let served = """
            FROM spans WHERE trace_seq >= \(Self.windowStart) AND start_ns >= ?1 AND kind = 2
              AND (listener IN ('inbound', 'gateway') OR listener IS NULL)
            """
        let (totals, samples) = try pool.read { db in
            let totals = try Row.fetchAll(db, sql: """
                SELECT service, listener IS NULL, count(*), sum(status = 2 OR coalesce(http_status, 0) >= 500) \(served)
                GROUP BY service, listener IS NULL
                """, arguments: [Int64(clamping: sinceNanos)])
            let samples = try Row.fetchAll(db, sql: "SELECT service, listener IS NULL, duration_ns \(served) ORDER BY trace_seq DESC LIMIT ?2",
                                           arguments: [Int64(clamping: sinceNanos), Self.percentileSample])
            return (totals, samples)
        }
        // A service with sidecar hops is measured by them; its app's own server spans would count
        // the same requests again.
        var meshServices = Set<String>()
        for row in totals where !(row[1] as Bool) { meshServices.insert(row[0]) }
        func counts(_ row: Row) -> Bool { meshServices.contains(row[0]) ? !(row[1] as Bool) : true }
        var durations: [String: [UInt64]] = [:]
        for row in samples where counts(row) {
            durations[row[0], default: []].append(UInt64(max(0, row[2] as Int64)))
        }
        let seconds = max(1, Double(nowNanos &- min(sinceNanos, nowNanos)) / 1e9)
        var result: [String: TrafficMetrics] = [:]
        for row in totals where counts(row) {
            let service: String = row[0]
            let requests: Int = row[2]
            let errors: Int = row[3] ?? 0
            let sorted = (durations[service] ?? []).sorted()
            result[service] = TrafficMetrics(requests: requests, rps: Double(requests) / seconds, errors: errors,
                                             errorRate: requests > 0 ? Double(errors) / Double(requests) : 0,
                                             p50Nanos: TrafficMetrics.percentile(sorted, 0.5), p99Nanos: TrafficMetrics.percentile(sorted, 0.99))
        }
        return result
    }

    /// Calls between services since `sinceNanos`. A sidecar's egress hop and the gateway's hop
    /// name whom they called (`peer_service`): no join needed. Apps' own OTLP spans are joined to
    /// their parent span: a child of another service's span is a call from that service.
    public func graph(sinceNanos: UInt64, nowNanos: UInt64) throws -> ServiceGraph {
        let since = Int64(clamping: sinceNanos)
        let hops = """
            FROM spans WHERE trace_seq >= \(Self.windowStart) AND start_ns >= ?1
              AND listener IN ('egress', 'gateway') AND peer_service IS NOT NULL
            """
        let (totals, samples, appCalls) = try pool.read { db in
            let totals = try Row.fetchAll(db, sql: """
                SELECT service, peer_service, count(*), sum(status = 2 OR coalesce(http_status, 0) >= 500) \(hops)
                GROUP BY service, peer_service
                """, arguments: [since])
            let samples = try Row.fetchAll(db, sql: "SELECT service, peer_service, duration_ns \(hops) ORDER BY trace_seq DESC LIMIT ?2",
                                           arguments: [since, Self.percentileSample])
            let appCalls = try Row.fetchAll(db, sql: """
                SELECT p.service, c.service, c.duration_ns, c.status FROM spans c
                JOIN spans p ON p.trace_seq = c.trace_seq AND p.span_id = c.parent_span_id
                WHERE c.trace_seq >= \(Self.windowStart) AND c.start_ns >= ?1 AND c.listener IS NULL AND c.parent_span_id IS NOT NULL
                  AND p.listener IS NULL AND p.service != c.service
                ORDER BY c.trace_seq DESC LIMIT ?2
                """, arguments: [since, Self.percentileSample])
            return (totals, samples, appCalls)
        }
        var durations: [String: [UInt64]] = [:]
        for row in samples { durations[(row[0] as String) + "\u{1}" + (row[1] as String), default: []].append(UInt64(max(0, row[2] as Int64))) }
        var edges: [ServiceGraph.Edge] = totals.map { row in
            let from: String = row[0], to: String = row[1]
            return ServiceGraph.Edge(from: from, to: to, calls: row[2], errors: row[3] ?? 0,
                                     p50Nanos: TrafficMetrics.percentile((durations[from + "\u{1}" + to] ?? []).sorted(), 0.5))
        }
        let appGraph = ServiceGraph(sinceNanos: sinceNanos, calls: appCalls.map { row in
            ServiceGraph.Call(from: row[0], to: row[1], durationNanos: UInt64(max(0, row[2] as Int64)), isError: (row[3] as Int64) == 2)
        }, traffic: [:], truncated: false)
        for edge in appGraph.edges where !edges.contains(where: { $0.from == edge.from && $0.to == edge.to }) { edges.append(edge) }
        var graph = ServiceGraph(sinceNanos: sinceNanos, calls: [], traffic: try traffic(sinceNanos: sinceNanos, nowNanos: nowNanos),
                                 truncated: appCalls.count >= Self.percentileSample)
        let names = Set(graph.nodes.map(\.name))
        for edge in edges {
            for name in [edge.from, edge.to] where !names.contains(name) && !graph.nodes.contains(where: { $0.name == name }) {
                graph.nodes.append(ServiceGraph.Node(name: name, requests: 0, errors: 0))
            }
        }
        graph.nodes.sort { $0.name < $1.name }
        graph.edges = edges.sorted { ($0.from, $0.to) < ($1.from, $1.to) }
        return graph
    }
}
