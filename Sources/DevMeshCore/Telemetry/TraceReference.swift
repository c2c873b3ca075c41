/// The trace a log line belongs to, when the line says so: a W3C `traceparent` value anywhere in
/// it, or — in JSON lines and `key=value` lines — a `trace_id`/`traceId` field, with
/// `span_id`/`spanId` and a `level`/`severity` when present. This is how a trace shows its logs.
public struct TraceReference: Sendable, Equatable {
    public var traceID: String?
    public var spanID: String?
    /// The line's own severity, when it states one (`level`, `severity`, `levelname`).
    public var level: String?

    public init(traceID: String?, spanID: String?, level: String? = nil) {
        self.traceID = traceID
        self.spanID = spanID
        self.level = level
    }

    private static let traceKeys: [[UInt8]] = ["trace_id", "traceid", "traceId", "trace.id"].map { Array($0.utf8) }
    private static let spanKeys: [[UInt8]] = ["span_id", "spanid", "spanId", "span.id"].map { Array($0.utf8) }
    private static let levelKeys: [[UInt8]] = ["level", "severity", "levelname", "lvl"].map { Array($0.utf8) }

    /// `nil` when the line names neither a trace nor a level. Bounded: looks at the first 8 KiB.
    public static func find(in text: String) -> TraceReference? {
        var bytes = Array(text.utf8.prefix(8192))
        var reference = TraceReference(traceID: nil, spanID: nil)
        if let (trace, span) = traceparent(in: bytes) {
            reference.traceID = trace
            reference.spanID = span
        }
        if reference.traceID == nil, let trace = field(traceKeys, in: bytes, hexLength: 32) { reference.traceID = trace }
        if reference.traceID != nil, reference.spanID == nil { reference.spanID = field(spanKeys, in: bytes, hexLength: 16) }
        reference.level = levelField(in: &bytes)
        return reference.traceID == nil && reference.level == nil ? nil : reference
    }

    /// `00-<32 hex>-<16 hex>-<2 hex>` anywhere in the line (an all-zero id is invalid).
    static func traceparent(in b: [UInt8]) -> (String, String)? {
        let total = 55
        guard b.count >= total else { return nil }
        var i = 0
        while i + total <= b.count {
            if b[i] == 0x30, b[i + 1] == 0x30, b[i + 2] == 0x2D, b[i + 35] == 0x2D, b[i + 52] == 0x2D,
               (i == 0 || !isHex(b[i - 1])),
               let trace = hex(b, i + 3, 32), let span = hex(b, i + 36, 16), hex(b, i + 53, 2, allowZero: true) != nil {
                return (trace, span)
            }
            i += 1
        }
        return nil
    }

    /// `key` followed by `=`, `:` or `":` and an optional quote, then exactly `hexLength` hex digits.
    static func field(_ keys: [[UInt8]], in b: [UInt8], hexLength: Int) -> String? {
        for key in keys {
            var from = 0
            while let at = find(key, in: b, from: from) {
                from = at + 1
                var j = at + key.count
                if j < b.count, b[j] == 0x22 { j += 1 }  // closing quote of a JSON key
                guard j < b.count, b[j] == 0x3D || b[j] == 0x3A else { continue }
                j += 1
                while j < b.count, b[j] == 0x20 { j += 1 }
                if j < b.count, b[j] == 0x22 || b[j] == 0x27 { j += 1 }
                guard let value = hex(b, j, hexLength) else { continue }
                let end = j + hexLength
                if end < b.count, isHex(b[end]) { continue }
                if at > 0, isWordByte(b[at - 1]) { continue }
                return value
            }
        }
        return nil
    }

    static func levelField(in b: inout [UInt8]) -> String? {
        for key in levelKeys {
            var from = 0
            while let at = find(key, in: b, from: from) {
                from = at + 1
                if at > 0, isWordByte(b[at - 1]) { continue }
                var j = at + key.count
                if j < b.count, b[j] == 0x22 { j += 1 }
                guard j < b.count, b[j] == 0x3D || b[j] == 0x3A else { continue }
                j += 1
                while j < b.count, b[j] == 0x20 { j += 1 }
                if j < b.count, b[j] == 0x22 || b[j] == 0x27 { j += 1 }
                var end = j
                while end < b.count, end - j < 12, isLetter(b[end]) { end += 1 }
                let word = String(decoding: b[j..<end], as: UTF8.self).uppercased()
                if let level = normalizedLevel(word) { return level }
            }
        }
        return nil
    }

    public static func normalizedLevel(_ word: String) -> String? {
        switch word {
        case "TRACE": return "TRACE"
        case "DEBUG": return "DEBUG"
        case "INFO", "INFORMATION", "NOTICE": return "INFO"
        case "WARN", "WARNING": return "WARN"
        case "ERROR", "ERR": return "ERROR"
        case "FATAL", "CRITICAL", "CRIT", "PANIC": return "FATAL"
        default: return nil
        }
    }

    private static func find(_ needle: [UInt8], in b: [UInt8], from: Int) -> Int? {
        guard needle.count <= b.count else { return nil }
        var i = from
        let first = needle[0] | 0x20
        while i + needle.count <= b.count {
            if b[i] | 0x20 == first {
                var k = 1
                while k < needle.count, lower(b[i + k]) == lower(needle[k]) { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// Ids may not be all zeros (W3C: invalid); flags may.
    private static func hex(_ b: [UInt8], _ at: Int, _ length: Int, allowZero: Bool = false) -> String? {
        guard at >= 0, at + length <= b.count else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(length)
        var nonZero = false
        for i in at..<(at + length) {
            let c = lower(b[i])
            guard isHex(c) else { return nil }
            if c != 0x30 { nonZero = true }
            out.append(c)
        }
        return nonZero || allowZero ? String(decoding: out, as: UTF8.self) : nil
    }

    private static func lower(_ c: UInt8) -> UInt8 { (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c }
    private static func isHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (lower(c) >= 0x61 && lower(c) <= 0x66) }
    private static func isLetter(_ c: UInt8) -> Bool { lower(c) >= 0x61 && lower(c) <= 0x7A }
    private static func isWordByte(_ c: UInt8) -> Bool { isLetter(c) || (c >= 0x30 && c <= 0x39) || c == 0x5F }
}
