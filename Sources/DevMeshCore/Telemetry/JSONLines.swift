/// Fast JSON for telemetry records (one object a line): Foundation's encoder costs more per record
/// than proxying the request did. The keys are the records' Codable keys, so `JSONDecoder` reads
/// the lines back into the same types.
public enum JSONLines {
    /// `{"span":{…}}\n`
    public static func append(span: SpanRecord, to out: inout [UInt8]) {
        out += #"{"span":{"#.utf8
        var w = ObjectWriter(out: out)
        w.string("traceID", span.traceID)
        w.string("spanID", span.spanID)
        if let p = span.parentSpanID { w.string("parentSpanID", p) }
        w.string("service", span.service)
        if let i = span.instance { w.string("instance", i) }
        w.string("kind", span.kind.rawValue)
        w.string("name", span.name)
        w.number("startNanos", String(span.startNanos))
        w.number("durationNanos", String(span.durationNanos))
        w.string("status", span.status.rawValue)
        w.key("attributes")
        w.out += "{".utf8
        var first = true
        for (k, v) in span.attributes.sorted(by: { $0.key < $1.key }) {
            if !first { w.out.append(0x2C) }
            first = false
            escape(k, into: &w.out)
            w.out.append(0x3A)
            escape(v, into: &w.out)
        }
        w.out += "}".utf8
        out = w.out
        out += "}}\n".utf8
    }

    /// `{"access":{…}}\n`
    public static func append(access a: AccessLogRecord, to out: inout [UInt8]) {
        out += #"{"access":{"#.utf8
        var w = ObjectWriter(out: out)
        w.number("time", String(a.time))
        w.string("listener", a.listener)
        w.string("service", a.service)
        if let i = a.instance { w.string("instance", i) }
        if let s = a.source { w.string("source", s) }
        w.string("method", a.method)
        w.string("path", a.path)
        w.number("status", String(a.status))
        w.number("durationMillis", String(a.durationMillis))
        w.number("bytesIn", String(a.bytesIn))
        w.number("bytesOut", String(a.bytesOut))
        if let u = a.upstream { w.string("upstream", u) }
        w.string("traceID", a.traceID)
        w.string("spanID", a.spanID)
        if let e = a.error { w.string("error", e) }
        w.number("attempts", String(a.attempts))
        out = w.out
        out += "}}\n".utf8
    }

    struct ObjectWriter {
        var out: [UInt8]
        var first = true

        mutating func key(_ k: String) {
            if !first { out.append(0x2C) }
            first = false
            escape(k, into: &out)
            out.append(0x3A)
        }

        mutating func string(_ k: String, _ v: String) {
            key(k)
            escape(v, into: &out)
        }

        mutating func number(_ k: String, _ v: String) {
            key(k)
            out += v.utf8
        }
    }

    static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    public static func escape(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0..<0x20, 0x7F:
                out += [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}
