/// Fast JSON for telemetry records (one object a line): Foundation's encoder costs more per record
/// than proxying the request did. The keys are the records' Codable keys, so `JSONDecoder` reads
/// the lines back into the same types.
public enum JSONLines {
    /// `{"span":{…}}\n`
    public static func append(span: SpanRecord, to out: inout [UInt8]) {
        out += #"{"span":{"#.utf8
        var w = ObjectWriter(out: [])
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
        out += w.out
        out += "}}\n".utf8
    }

    /// `{"access":{…}}\n`
    public static func append(access a: AccessLogRecord, to out: inout [UInt8]) {
        out += #"{"access":{"#.utf8
        var w = ObjectWriter(out: [])
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
        out += w.out
        out += "}}\n".utf8
    }

    /// A hop's span and access record, written straight from the compact record (no dictionary,
    /// no sorting): the same JSON `append(span: hop.span())` and `append(access: hop.access())`
    /// produce, at a fraction of the cost.
    public static func append(hop: HopRecord, to out: inout [UInt8]) {
        let status = String(hop.status)
        let path = hop.path
        let isError = hop.error != nil || hop.status >= 500 || (hop.kind == .client && hop.status >= 400)
        out += #"{"span":{"#.utf8
        var w = ObjectWriter(out: [])
        w.string("traceID", hop.traceID)
        w.string("spanID", hop.spanID)
        if let p = hop.parentSpanID { w.string("parentSpanID", p) }
        w.string("service", hop.service)
        if let i = hop.instance { w.string("instance", i) }
        w.string("kind", hop.kind.rawValue)
        w.key("name")
        escape(hop.method + " " + path, into: &w.out)
        w.number("startNanos", String(hop.startNanos))
        w.number("durationNanos", String(hop.durationNanos))
        w.string("status", isError ? "error" : "unset")
        w.key("attributes")
        var a = ObjectWriter(out: [0x7B])
        a.string("devmesh.attempts", String(hop.attempts))
        a.string("devmesh.listener", hop.listener)
        if let sp = hop.sourcePrincipal { a.string("devmesh.source.principal", sp) }
        if let e = hop.endpointName { a.string("devmesh.upstream", e) }
        if let error = hop.error { a.string("error.type", error) } else if hop.status >= 500 { a.string("error.type", status) }
        a.string("http.request.body.size", String(hop.bytesIn))
        a.string("http.request.method", hop.method)
        a.string("http.response.body.size", String(hop.bytesOut))
        a.string("http.response.status_code", status)
        if let h = hop.endpointHost { a.string("network.peer.address", h) }
        if let p = hop.endpointPort { a.string("network.peer.port", String(p)) }
        a.string("network.protocol.version", hop.minorVersion == 1 ? "1.1" : "1.0")
        if let u = hop.upstreamName { a.string("peer.service", u) }
        if !hop.host.isEmpty { a.string("server.address", hop.host) }
        a.string("url.path", path)
        if let q = hop.query { a.string("url.query", q) }
        if let ua = hop.userAgent { a.string("user_agent.original", ua) }
        w.out += a.out
        w.out.append(0x7D)
        out += w.out
        out += "}}\n".utf8
        out += #"{"access":{"#.utf8
        var x = ObjectWriter(out: [])
        x.number("time", String(Double(hop.startNanos) / 1e9))
        x.string("listener", hop.listener)
        x.string("service", hop.service)
        if let i = hop.instance { x.string("instance", i) }
        if let sp = hop.sourcePrincipal { x.string("source", sp) } else if hop.listener == "egress" { x.string("source", hop.service) }
        x.string("method", hop.method)
        x.string("path", path)
        x.number("status", status)
        x.number("durationMillis", String(Double(hop.durationNanos) / 1e6))
        x.number("bytesIn", String(hop.bytesIn))
        x.number("bytesOut", String(hop.bytesOut))
        if let u = hop.endpointName { x.string("upstream", u) }
        x.string("traceID", hop.traceID)
        x.string("spanID", hop.spanID)
        if let e = hop.error { x.string("error", e) }
        x.number("attempts", String(hop.attempts))
        out += x.out
        out += "}}\n".utf8
    }

    /// Writes one object into a buffer of its own (appended to the caller's at the end), so the
    /// cost of a record never depends on how much the caller's buffer already holds.
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

    /// A JSON string literal: quotes, backslashes and control characters escaped. Most strings
    /// need no escaping: they are appended in one copy.
    public static func escape(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { bytes in
            out.append(0x22)
            var clean = true
            for b in bytes where b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F {
                clean = false
                break
            }
            if clean {
                out.append(contentsOf: bytes)
            } else {
                for b in bytes {
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
            }
            out.append(0x22)
        }
    }
}
