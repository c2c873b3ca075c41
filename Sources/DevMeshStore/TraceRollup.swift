import DevMeshCore
import GRDB

/// The `traces` table, kept up to date one write batch at a time: spans are summed per trace in
/// memory, then each touched trace is read once, merged, and written once. The root is the span
/// without a parent; until it arrives (or when the trace began outside the mesh), the earliest.
struct TraceRollup {
    struct Entry {
        var start: UInt64
        var end: UInt64
        var count: Int
        var errors: Int
        var rootRank: Int
        var rootStart: UInt64
        var rootService: String
        var rootName: String
        var method: String?
        var path: String?
        var status: Int64?
        var services: Set<String>

        mutating func merge(_ other: Entry) {
            start = min(start, other.start)
            end = max(end, other.end)
            count += other.count
            errors += other.errors
            services.formUnion(other.services)
            if (other.rootRank, other.rootStart) < (rootRank, rootStart) {
                rootRank = other.rootRank
                rootStart = other.rootStart
                rootService = other.rootService
                rootName = other.rootName
                method = other.method
                path = other.path
                status = other.status
            }
        }
    }

    private(set) var entries: [String: Entry] = [:]

    var isEmpty: Bool { entries.isEmpty }

    mutating func add(traceID: String, start: UInt64, duration: UInt64, isError: Bool, hasParent: Bool,
                      service: String, name: String, method: String?, target: String?, status: Int64?) {
        let entry = Entry(
            start: start, end: start &+ duration, count: 1, errors: isError ? 1 : 0, rootRank: hasParent ? 1 : 0,
            rootStart: start, rootService: service, rootName: name, method: method,
            path: target.map { String($0.prefix { $0 != "?" }) }, status: status, services: [service])
        if entries[traceID] == nil {
            entries[traceID] = entry
        } else {
            entries[traceID]!.merge(entry)
        }
    }

    mutating func add(_ hop: HopRecord) {
        add(traceID: hop.traceID, start: hop.startNanos, duration: hop.durationNanos, isError: hop.isError,
            hasParent: hop.parentSpanID != nil, service: hop.service, name: hop.spanName, method: hop.method,
            target: hop.target, status: Int64(hop.status))
    }

    mutating func add(_ span: TelemetrySpan) {
        let http = HTTPFacts(span)
        add(traceID: span.traceID, start: span.startNanos, duration: span.durationNanos, isError: span.isError,
            hasParent: span.parentSpanID != nil, service: span.service, name: span.name, method: http.method,
            target: http.target, status: http.status)
    }

    func flush(_ db: Database, run: Int64?) throws {
        let select = try db.cachedStatement(sql: """
            SELECT start_ns, end_ns, span_count, error_count, root_rank, root_start_ns, root_service, root_name,
                   root_method, root_path, root_status, services FROM traces WHERE trace_id = ?
            """)
        let upsert = try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO traces (trace_id, run_id, start_ns, end_ns, span_count, error_count, root_rank,
                root_start_ns, root_service, root_name, root_method, root_path, root_status, services)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (traceID, fresh) in entries {
            var entry = fresh
            if let row = try Row.fetchOne(select, arguments: [traceID]) {
                let services: String = row[11]
                var stored = Entry(
                    start: UInt64(bitPattern: row[0]), end: UInt64(bitPattern: row[1]), count: row[2], errors: row[3],
                    rootRank: row[4], rootStart: UInt64(bitPattern: row[5]), rootService: row[6], rootName: row[7],
                    method: row[8], path: row[9], status: row[10],
                    services: Set(services.split(separator: ",").map(String.init)))
                stored.merge(fresh)
                entry = stored
            }
            try upsert.execute(arguments: [
                traceID, run, Int64(bitPattern: entry.start), Int64(bitPattern: entry.end), entry.count, entry.errors,
                entry.rootRank, Int64(bitPattern: entry.rootStart), entry.rootService, entry.rootName, entry.method,
                entry.path, entry.status, "," + entry.services.sorted().joined(separator: ",") + ",",
            ])
        }
    }
}
