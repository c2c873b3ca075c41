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

    /// One UPSERT per touched trace, merged in SQL (`merge_services` is registered on every
    /// connection): no read-back, and the start-time index changes only when an earlier span
    /// arrives.
    static let upsertSQL = """
        INSERT INTO traces (trace_id, run_id, start_ns, end_ns, span_count, error_count, root_rank, root_start_ns,
                            root_service, root_name, root_method, root_path, root_status, services, trace_key)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(trace_key) DO UPDATE SET
            start_ns = min(start_ns, excluded.start_ns),
            end_ns = max(end_ns, excluded.end_ns),
            span_count = span_count + excluded.span_count,
            error_count = error_count + excluded.error_count,
            services = merge_services(services, excluded.services),
            root_service = CASE WHEN \(newRoot) THEN excluded.root_service ELSE root_service END,
            root_name = CASE WHEN \(newRoot) THEN excluded.root_name ELSE root_name END,
            root_method = CASE WHEN \(newRoot) THEN excluded.root_method ELSE root_method END,
            root_path = CASE WHEN \(newRoot) THEN excluded.root_path ELSE root_path END,
            root_status = CASE WHEN \(newRoot) THEN excluded.root_status ELSE root_status END,
            root_rank = CASE WHEN \(newRoot) THEN excluded.root_rank ELSE root_rank END,
            root_start_ns = CASE WHEN \(newRoot) THEN excluded.root_start_ns ELSE root_start_ns END
        RETURNING seq
        """
    /// Every SET expression sees the old row, so this holds for all of them.
    static let newRoot = "(excluded.root_rank < root_rank OR (excluded.root_rank = root_rank AND excluded.root_start_ns < root_start_ns))"

    /// Each touched trace's `seq`, which its spans are then stored with.
    func flush(_ db: Database, run: Int64?) throws -> [String: Int64] {
        let upsert = SQLiteBinder(try db.cachedStatement(sql: Self.upsertSQL))
        var seqs: [String: Int64] = [:]
        seqs.reserveCapacity(entries.count)
        // By start time: new traces then get their `seq` in the order they began, which is what
        // lets a window of the newest traces be read as a range of sequence numbers.
        for (traceID, entry) in entries.sorted(by: { ($0.value.start, $0.key) < ($1.value.start, $1.key) }) {
            upsert.bind(1, traceID)
            upsert.bind(2, run)
            upsert.bind(3, entry.start)
            upsert.bind(4, entry.end)
            upsert.bind(5, entry.count)
            upsert.bind(6, entry.errors)
            upsert.bind(7, entry.rootRank)
            upsert.bind(8, entry.rootStart)
            upsert.bind(9, entry.rootService)
            upsert.bind(10, entry.rootName)
            upsert.bind(11, entry.method)
            upsert.bind(12, entry.path)
            upsert.bind(13, entry.status)
            upsert.bind(14, Self.servicesText(entry.services))
            upsert.bind(15, TraceKey.key(traceID) ?? 0)
            seqs[traceID] = try upsert.stepReturningInt64(db)
        }
        return seqs
    }

    /// `,a,b,` — sorted, with delimiters on both ends so `LIKE '%,a,%'` matches whole names.
    static func servicesText<S: Sequence>(_ services: S) -> String where S.Element == String {
        "," + services.sorted().joined(separator: ",") + ","
    }

    /// The union of two `,a,b,` lists (the SQL function `merge_services`).
    static let mergeServices = DatabaseFunction("merge_services", argumentCount: 2, pure: true) { values in
        let old = String.fromDatabaseValue(values[0]) ?? ","
        let new = String.fromDatabaseValue(values[1]) ?? ","
        if old == new { return old }
        var set = Set(old.split(separator: ",").map(String.init))
        let before = set.count
        for s in new.split(separator: ",") { set.insert(String(s)) }
        return set.count == before ? old : servicesText(set)
    }
}
