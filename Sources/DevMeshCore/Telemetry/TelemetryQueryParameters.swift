/// Trace and log filters as URL query parameters: what the CLI sends to the admin API and what
/// the API (and the web UI) accept. `since` takes a duration back from now (`10m`) or `since_ns`
/// an absolute Unix time in nanoseconds.
public enum TelemetryQueryParameters {
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// The trace list's parameters. Unknown names are refused (a typo must not silently widen a
    /// search); `extra` names the ones the caller handles itself.
    public static func traceFilter(_ query: [(String, String)], nowNanos: UInt64, extra: Set<String> = []) throws -> TraceFilter {
        var filter = TraceFilter()
        for (key, value) in query {
            switch key {
            case "service": filter.service = try nonEmpty(key, value)
            case "path": filter.path = try nonEmpty(key, value)
            case "status":
                guard let status = TraceFilter.parseStatus(value) else {
                    throw Invalid("`status` must be `error` or an HTTP status code, not `\(value)`")
                }
                filter.status = status
            case "min_duration": filter.minDurationNanos = try duration(key, value)
            case "max_duration": filter.maxDurationNanos = try duration(key, value)
            case "since", "since_ns": filter.sinceNanos = try instant(key, value, nowNanos: nowNanos)
            case "until", "until_ns": filter.untilNanos = try instant(key, value, nowNanos: nowNanos)
            case "attr": filter.attributes.append(try attribute(value))
            case "limit": filter.limit = try limit(value, max: 10_000)
            default:
                guard extra.contains(key) else { throw unknown(key, known: traceParameters.union(extra)) }
            }
        }
        if let min = filter.minDurationNanos, let max = filter.maxDurationNanos, min > max {
            throw Invalid("`min_duration` is longer than `max_duration`: no trace can match")
        }
        if let since = filter.sinceNanos, let until = filter.untilNanos, since >= until {
            throw Invalid("`since` is not before `until`: no trace can match")
        }
        guard filter.attributes.count <= 8 else { throw Invalid("at most 8 `attr` filters") }
        return filter
    }

    public static func logFilter(_ query: [(String, String)], nowNanos: UInt64, extra: Set<String> = []) throws -> LogFilter {
        var filter = LogFilter()
        for (key, value) in query {
            switch key {
            case "service": filter.services.append(try nonEmpty(key, value))
            case "grep": filter.grep = value.isEmpty ? nil : value
            case "trace":
                guard isHex(value, length: 32...32) else { throw Invalid("`trace` must be a 32-digit hex trace id, not `\(value)`") }
                filter.traceID = value.lowercased()
            case "since", "since_ns":
                filter.sinceNanos = try instant(key, value, nowNanos: nowNanos)
            case "after":
                guard let id = Int64(value), id >= 0 else { throw Invalid("`after` must be a log id, not `\(value)`") }
                filter.afterID = id
            case "limit": filter.limit = try limit(value, max: 100_000)
            default:
                guard extra.contains(key) else { throw unknown(key, known: logParameters.union(extra)) }
            }
        }
        guard filter.services.count <= 64 else { throw Invalid("at most 64 `service` filters") }
        return filter
    }

    /// ASCII hex digits only (`Character.isHexDigit` also takes fullwidth forms), `length` of them.
    public static func isHex(_ text: String, length: ClosedRange<Int>) -> Bool {
        length.contains(text.utf8.count) && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0 | 0x20) }
    }

    static let traceParameters: Set<String> = ["service", "path", "status", "min_duration", "max_duration", "since", "since_ns",
                                               "until", "until_ns", "attr", "limit"]
    static let logParameters: Set<String> = ["service", "grep", "trace", "since", "since_ns", "after", "limit"]

    static func unknown(_ key: String, known: Set<String>) -> Invalid {
        Invalid("unknown parameter `\(key.prefix(64))`; this endpoint takes \(known.sorted().joined(separator: ", "))")
    }

    static func nonEmpty(_ key: String, _ value: String) throws -> String {
        guard !value.isEmpty else { throw Invalid("`\(key)` is empty; give a value or leave the parameter out") }
        return value
    }

    static func duration(_ key: String, _ value: String) throws -> UInt64 {
        guard let d = DurationParser.parse(value) else { throw Invalid("`\(key)` must be a duration such as 50ms or 2s, not `\(value)`") }
        return nanos(d)
    }

    public static func limit(_ value: String, max: Int) throws -> Int {
        guard let n = Int(value), n > 0 else { throw Invalid("`limit` must be a positive number, not `\(value)`") }
        return min(n, max)
    }

    /// `key=value`: a span attribute compared as text.
    static func attribute(_ text: String) throws -> TraceFilter.AttributeMatch {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw Invalid("`attr` must be key=value, such as attr=http.route=/users/{id}, not `\(text.prefix(80))`")
        }
        let key = String(text[..<eq])
        guard key.count <= 128, key.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0 != "\"" && $0 != "\\" }) else {
            throw Invalid("an `attr` key is at most 128 characters without quotes, backslashes or control characters")
        }
        return TraceFilter.AttributeMatch(key: key, value: String(text[text.index(after: eq)...]))
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
        if let m = filter.minDurationNanos { q.append(("min_duration", "\(m / 1_000)us")) }
        if let m = filter.maxDurationNanos { q.append(("max_duration", "\(m / 1_000)us")) }
        if let s = filter.sinceNanos { q.append(("since_ns", String(s))) }
        if let u = filter.untilNanos { q.append(("until_ns", String(u))) }
        for a in filter.attributes { q.append(("attr", a.key + "=" + a.value)) }
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

    /// Saturates instead of trapping (untrusted input reaches here).
    public static func nanos(_ d: Duration) -> UInt64 {
        let (whole, overflow) = UInt64(max(0, d.components.seconds)).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        return whole.addingReportingOverflow(UInt64(max(0, d.components.attoseconds) / 1_000_000_000)).overflow ? .max
            : whole + UInt64(max(0, d.components.attoseconds) / 1_000_000_000)
    }

    /// `since`/`until`: a duration back from now (`10m`) or an ISO 8601 time
    /// (`2026-11-26T09:30:00Z`); `since_ns`/`until_ns`: Unix nanoseconds.
    static func instant(_ key: String, _ value: String, nowNanos: UInt64) throws -> UInt64 {
        if key.hasSuffix("_ns") {
            guard let n = UInt64(value) else { throw Invalid("`\(key)` must be Unix nanoseconds, not `\(value)`") }
            return n
        }
        if let d = DurationParser.parse(value) {
            let back = nanos(d)
            return nowNanos > back ? nowNanos - back : 0
        }
        if let time = ISOTime.parseNanos(value) { return time }
        throw Invalid("`\(key)` must be a duration back from now such as 10m or 2h, or a time such as 2026-11-26T09:30:00Z, not `\(value)`")
    }
}
