import DevMeshCore
import GRDB

/// The overview's numbers and the service map, from recent spans. Both read a window of the
/// newest spans only: spans are found through the traces that started in the window (the
/// `traces_by_start` index, then `spans_by_trace` by sequence), never by scanning the table.
/// Both are bounded whatever the load: they read at most the newest `windowTraceCap` traces of
/// the window (at a laptop's usual traffic, all of it; under a load test, the last seconds, and
/// rates are then over the time those traces cover). Counts are aggregated in SQLite; latency
/// percentiles come from each service's (each edge's) newest `percentileSample` spans.
extension TelemetryDatabase {
    /// Spans per service (per edge) that the percentiles are taken from.
    static let percentileSample = 5_000
    public static let windowTraceCap: Int64 = 20_000

    /// The part of a window that is read: spans of traces from `firstSeq` on, and the time that
    /// covers (`sinceNanos`, later than asked when the cap cut the window).
    struct ReadWindow {
        var firstSeq: Int64
        var sinceNanos: UInt64
        var truncated: Bool
    }

    func readWindow(_ db: Database, sinceNanos: UInt64, cap: Int64) throws -> ReadWindow {
        let since = Int64(clamping: sinceNanos)
        let last = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM traces") ?? 0
        // The trace `cap` back from the newest: when it started inside the window, the window
        // holds more than `cap` traces and is cut there — found without reading them all.
        let cut = max(1, last - cap + 1)
        if cut > 1, let cutStart = try Int64.fetchOne(db, sql: "SELECT start_ns FROM traces WHERE seq >= ? ORDER BY seq LIMIT 1", arguments: [cut]),
           cutStart >= since {
            return ReadWindow(firstSeq: cut, sinceNanos: UInt64(cutStart), truncated: true)
        }
        let first = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM traces WHERE start_ns >= ?", arguments: [since]) ?? Int64.max
        return ReadWindow(firstSeq: first, sinceNanos: sinceNanos, truncated: false)
    }

    /// Requests each service served since `sinceNanos`: its inbound sidecar hops (the gateway's
    /// hops for the gateway); an app outside the mesh, its own OTLP server spans.
    public func traffic(sinceNanos: UInt64, nowNanos: UInt64, traceCap: Int64 = windowTraceCap) throws -> [String: TrafficMetrics] {
        let served = """
            FROM spans WHERE trace_seq >= ?1 AND start_ns >= ?2 AND kind = 2
              AND (listener IN ('inbound', 'gateway') OR listener IS NULL)
            """
        let (window, totals, samples) = try pool.read { db in
            let window = try readWindow(db, sinceNanos: sinceNanos, cap: traceCap)
            let range: StatementArguments = [window.firstSeq, Int64(clamping: sinceNanos)]
            let sampled: StatementArguments = [window.firstSeq, Int64(clamping: sinceNanos), Self.percentileSample]
            let totals = try Row.fetchAll(db, sql: """
                SELECT service, listener IS NULL, count(*), sum(status = 2 OR coalesce(http_status, 0) >= 500) \(served)
                GROUP BY service, listener IS NULL
                """, arguments: range)
            // Each service's newest spans: a quiet service next to a busy one still gets its percentiles.
            var samples: [Row] = []
            for service in Set(totals.map { $0[0] as String }) {
                samples += try Row.fetchAll(db, sql: "SELECT service, listener IS NULL, duration_ns \(served) AND service = ?4 ORDER BY trace_seq DESC LIMIT ?3",
                                            arguments: sampled + [service])
            }
            return (window, totals, samples)
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
        let seconds = max(1, Double(nowNanos &- min(window.sinceNanos, nowNanos)) / 1e9)
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
    public func graph(sinceNanos: UInt64, nowNanos: UInt64, traceCap: Int64 = windowTraceCap) throws -> ServiceGraph {
        let hops = """
            FROM spans WHERE trace_seq >= ?1 AND start_ns >= ?2
              AND listener IN ('egress', 'gateway') AND peer_service IS NOT NULL
            """
        let (window, totals, samples, appCalls) = try pool.read { db in
            let window = try readWindow(db, sinceNanos: sinceNanos, cap: traceCap)
            let range: StatementArguments = [window.firstSeq, Int64(clamping: sinceNanos)]
            let sampled: StatementArguments = [window.firstSeq, Int64(clamping: sinceNanos), Self.percentileSample]
            let totals = try Row.fetchAll(db, sql: """
                SELECT service, peer_service, count(*), sum(status = 2 OR coalesce(http_status, 0) >= 500) \(hops)
                GROUP BY service, peer_service
                """, arguments: range)
            var samples: [Row] = []
            for edge in totals {
                samples += try Row.fetchAll(db, sql: "SELECT service, peer_service, duration_ns \(hops) AND service = ?4 AND peer_service = ?5 ORDER BY trace_seq DESC LIMIT ?3",
                                            arguments: sampled + [edge[0] as String, edge[1] as String])
            }
            let appCalls = try Row.fetchAll(db, sql: """
                SELECT p.service, c.service, c.duration_ns, c.status = 2 OR coalesce(c.http_status, 0) >= 500 FROM spans c
                JOIN spans p ON p.trace_seq = c.trace_seq AND p.span_id = c.parent_span_id
                WHERE c.trace_seq >= ?1 AND c.start_ns >= ?2 AND c.listener IS NULL AND c.parent_span_id IS NOT NULL
                  AND p.listener IS NULL AND p.service != c.service
                ORDER BY c.trace_seq DESC LIMIT 20000
                """, arguments: range)
            return (window, totals, samples, appCalls)
        }
        var durations: [String: [UInt64]] = [:]
        for row in samples { durations[(row[0] as String) + "\u{1}" + (row[1] as String), default: []].append(UInt64(max(0, row[2] as Int64))) }
        var edges: [ServiceGraph.Edge] = totals.map { row in
            let from: String = row[0], to: String = row[1]
            return ServiceGraph.Edge(from: from, to: to, calls: row[2], errors: row[3] ?? 0,
                                     p50Nanos: TrafficMetrics.percentile((durations[from + "\u{1}" + to] ?? []).sorted(), 0.5))
        }
        let appGraph = ServiceGraph(sinceNanos: sinceNanos, calls: appCalls.map { row in
            ServiceGraph.Call(from: row[0], to: row[1], durationNanos: UInt64(max(0, row[2] as Int64)), isError: row[3] as Bool)
        }, traffic: [:], truncated: false)
        for edge in appGraph.edges where !edges.contains(where: { $0.from == edge.from && $0.to == edge.to }) { edges.append(edge) }
        var graph = ServiceGraph(sinceNanos: sinceNanos, calls: [], traffic: try traffic(sinceNanos: sinceNanos, nowNanos: nowNanos, traceCap: traceCap),
                                 truncated: window.truncated || appCalls.count >= 20_000)
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
