/// Trace and log filters as URL query parameters: what the CLI sends to the admin API and what
/// the API (and the web UI) accept. `since` takes a duration back from now (`10m`) or `since_ns`
/// an absolute Unix time in nanoseconds.
public enum TelemetryQueryParameters {
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    public static func traceFilter(_ query: [(String, String)], nowNanos: UInt64) throws -> TraceFilter {
        var filter = TraceFilter()
        for (key, value) in query {
            switch key {
            case "service": filter.service = value
            case "path": filter.path = value
            case "status":
                guard let status = TraceFilter.parseStatus(value) else {
                    throw Invalid("`status` must be `error` or an HTTP status code, not `\(value)`")
                }
                filter.status = status
            case "min_duration":
                guard let d = DurationParser.parse(value) else { throw Invalid("`min_duration` must be a duration such as 50ms, not `\(value)`") }
                filter.minDurationNanos = nanos(d)
            case "since", "since_ns":
                filter.sinceNanos = try since(key, value, nowNanos: nowNanos)
            case "limit":
                guard let n = Int(value), n > 0 else { throw Invalid("`limit` must be a positive number, not `\(value)`") }
                filter.limit = min(n, 10_000)
            default: break
            }
        }
        return filter
    }

    public static func logFilter(_ query: [(String, String)], nowNanos: UInt64) throws -> LogFilter {
        var filter = LogFilter()
        for (key, value) in query {
            switch key {
            case "service": filter.services.append(value)
            case "grep": filter.grep = value
            case "trace":
                guard value.count == 32, value.allSatisfy(\.isHexDigit) else { throw Invalid("`trace` must be a 32-digit hex trace id, not `\(value)`") }
                filter.traceID = value.lowercased()
            case "since", "since_ns":
                filter.sinceNanos = try since(key, value, nowNanos: nowNanos)
            case "after":
                guard let id = Int64(value), id >= 0 else { throw Invalid("`after` must be a log id, not `\(value)`") }
                filter.afterID = id
            case "limit":
                guard let n = Int(value), n > 0 else { throw Invalid("`limit` must be a positive number, not `\(value)`") }
                filter.limit = min(n, 100_000)
            default: break
            }
        }
        return filter
    }

    public static func query(_ filter: TraceFilter) -> [(String, String)] {
        var q: [(String, String)] = []
        if let s = filter.service { q.append(("service", s)) }
        if let p = filter.path { q.append(("path", p)) }
        switch filter.status {
        case .error?: q.append(("status", "error"))
        case .code(let c)?: q.append(("status", String(c)))
        case nil: break
        }
        if let m = filter.minDurationNanos { q.append(("min_duration", "\(m / 1_000_000)ms")) }
        if let s = filter.sinceNanos { q.append(("since_ns", String(s))) }
        q.append(("limit", String(filter.limit)))
        return q
    }

    public static func query(_ filter: LogFilter) -> [(String, String)] {
        var q: [(String, String)] = filter.services.map { ("service", $0) }
        if let g = filter.grep { q.append(("grep", g)) }
        if let t = filter.traceID { q.append(("trace", t)) }
        if let s = filter.sinceNanos { q.append(("since_ns", String(s))) }
        if let a = filter.afterID { q.append(("after", String(a))) }
        q.append(("limit", String(filter.limit)))
        return q
    }

    public static func nanos(_ d: Duration) -> UInt64 {
        UInt64(max(0, d.components.seconds)) * 1_000_000_000 + UInt64(max(0, d.components.attoseconds) / 1_000_000_000)
    }

    static func since(_ key: String, _ value: String, nowNanos: UInt64) throws -> UInt64 {
        if key == "since_ns" {
            guard let n = UInt64(value) else { throw Invalid("`since_ns` must be Unix nanoseconds, not `\(value)`") }
            return n
        }
        guard let d = DurationParser.parse(value) else { throw Invalid("`since` must be a duration such as 10m or 2h, not `\(value)`") }
        let back = nanos(d)
        return nowNanos > back ? nowNanos - back : 0
    }
}
