import DevMeshCore
import Foundation
import GRDB

/// One row of `spans`: written from a sidecar's compact `HopRecord` or from a full
/// `TelemetrySpan` (OTLP), read back as a `TelemetrySpan`.
enum SpanRow {
    static let columns = [
        "run_id", "trace_id", "span_id", "parent_span_id", "service", "instance", "kind", "name", "start_ns",
        "duration_ns", "status", "status_message", "listener", "http_method", "http_target", "http_status",
        "error_type", "host", "user_agent", "protocol_version", "peer_service", "upstream", "peer_address",
        "peer_port", "attempts", "bytes_in", "bytes_out", "source_principal", "attributes", "events", "resource", "scope",
        "trace_seq",
    ]

    static let insertSQL = "INSERT INTO spans (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"

    static func statusNumber(_ status: SpanRecord.Status) -> Int64 {
        switch status {
        case .unset: return 0
        case .ok: return 1
        case .error: return 2
        }
    }

    static func status(_ number: Int64) -> SpanRecord.Status {
        switch number {
        case 1: return .ok
        case 2: return .error
        default: return .unset
        }
    }

    /// A sidecar hop: values bound as they are; a policy decision goes into the attributes JSON.
    static func insert(_ hop: HopRecord, run: Int64?, traceSeq: Int64, with b: SQLiteBinder, db: Database) throws {
        b.bind(1, run)
        b.bind(2, hop.traceID)
        b.bind(3, hop.spanID)
        b.bind(4, hop.parentSpanID)
        b.bind(5, hop.service)
        b.bind(6, hop.instance)
        b.bind(7, Int64(hop.kind.otlpNumber))
        b.bind(8, hop.spanName)
        b.bind(9, hop.startNanos)
        b.bind(10, hop.durationNanos)
        b.bind(11, hop.isError ? 2 : 0 as Int64)
        b.bind(12, nil as String?)
        b.bind(13, hop.listener)
        b.bind(14, hop.method)
        b.bind(15, hop.target)
        b.bind(16, Int64(hop.status))
        b.bind(17, hop.error)
        b.bind(18, hop.host.isEmpty ? nil : hop.host)
        b.bind(19, hop.userAgent)
        b.bind(20, hop.minorVersion == 1 ? "1.1" : "1.0")
        b.bind(21, hop.upstreamName)
        b.bind(22, hop.endpointName)
        b.bind(23, hop.endpointHost)
        b.bind(24, hop.endpointPort)
        b.bind(25, hop.attempts)
        b.bind(26, hop.bytesIn)
        b.bind(27, hop.bytesOut)
        b.bind(28, hop.sourcePrincipal)
        if hop.apiKey != nil || hop.user != nil || hop.cache != nil {
            let callers = [hop.apiKey.map { ("devmesh.api_key.name", $0) }, hop.user.map { ("enduser.id", $0) },
                           hop.cache.map { ("devmesh.cache", $0) }].compactMap { $0 }
            b.bind(29, Self.typedJSON(callers + (hop.policy?.attributePairs ?? [])))
        } else {
            b.bind(29, hop.policy.map { Self.typedJSON($0.attributePairs) })
        }
        b.bind(30, nil as String?)
        b.bind(31, nil as String?)
        b.bind(32, "devmesh")
        b.bind(33, traceSeq)
        try b.step(db)
    }

    /// A span an app sent (or a sidecar span in full form). The HTTP columns are filled from the
    /// attributes too, for the trace roll-up; the attributes stay as sent.
    static func insert(_ span: TelemetrySpan, run: Int64?, traceSeq: Int64, with b: SQLiteBinder, db: Database, encoder: JSONEncoder) throws {
        let http = HTTPFacts(span)
        b.bind(1, run)
        b.bind(2, span.traceID)
        b.bind(3, span.spanID)
        b.bind(4, span.parentSpanID)
        b.bind(5, span.service)
        b.bind(6, span.instance)
        b.bind(7, Int64(span.kind.otlpNumber))
        b.bind(8, span.name)
        b.bind(9, span.startNanos)
        b.bind(10, span.durationNanos)
        b.bind(11, statusNumber(span.status))
        b.bind(12, span.statusMessage)
        b.bind(13, nil as String?)
        b.bind(14, http.method)
        b.bind(15, http.target)
        b.bind(16, http.status)
        for i in Int32(17)...28 { b.bind(i, nil as String?) }
        b.bind(29, span.attributes.isEmpty ? nil : TypedAttribute.encode(span.attributes, encoder))
        b.bind(30, span.events.isEmpty ? nil : json(span.events.map(StoredEvent.init), encoder))
        b.bind(31, span.resource.isEmpty ? nil : TypedAttribute.encode(span.resource, encoder))
        b.bind(32, span.scope)
        b.bind(33, traceSeq)
        try b.step(db)
    }

    static func json<T: Encodable>(_ value: T, _ encoder: JSONEncoder) -> String? {
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }

    static let selectColumns = "trace_id, span_id, parent_span_id, service, instance, kind, name, start_ns, duration_ns, status, status_message, listener, http_method, http_target, http_status, error_type, host, user_agent, protocol_version, peer_service, upstream, peer_address, peer_port, attempts, bytes_in, bytes_out, source_principal, attributes, events, resource, scope"

    /// A row of `SELECT selectColumns`: sidecar columns become the OpenTelemetry attributes they
    /// stand for (the same names `HopRecord.span()` uses).
    static func decode(_ row: Row, decoder: JSONDecoder) -> TelemetrySpan {
        var attributes = TypedAttribute.decode(row["attributes"], decoder)
        let listener: String? = row["listener"]
        if let listener {
            let target: String = row["http_target"] ?? ""
            let path = String(target.prefix { $0 != "?" })
            attributes["devmesh.listener"] = .string(listener)
            if let method: String = row["http_method"] { attributes["http.request.method"] = .string(method) }
            attributes["url.path"] = .string(path)
            if let q = target.firstIndex(of: "?") { attributes["url.query"] = .string(String(target[target.index(after: q)...])) }
            if let status: Int64 = row["http_status"] { attributes["http.response.status_code"] = .int(status) }
            if let v: String = row["protocol_version"] { attributes["network.protocol.version"] = .string(v) }
            if let v: Int64 = row["attempts"] { attributes["devmesh.attempts"] = .int(v) }
            if let v: Int64 = row["bytes_in"] { attributes["http.request.body.size"] = .int(v) }
            if let v: Int64 = row["bytes_out"] { attributes["http.response.body.size"] = .int(v) }
            if let v: String = row["host"] { attributes["server.address"] = .string(v) }
            if let v: String = row["user_agent"] { attributes["user_agent.original"] = .string(v) }
            if let v: String = row["upstream"] { attributes["devmesh.upstream"] = .string(v) }
            if let v: String = row["source_principal"] { attributes["devmesh.source.principal"] = .string(v) }
            if let v: String = row["peer_address"] { attributes["network.peer.address"] = .string(v) }
            if let v: Int64 = row["peer_port"] { attributes["network.peer.port"] = .int(v) }
            if let v: String = row["peer_service"] { attributes["peer.service"] = .string(v) }
            if let v: String = row["error_type"] {
                attributes["error.type"] = .string(v)
            } else if let status: Int64 = row["http_status"], status >= 500 {
                attributes["error.type"] = .string(String(status))
            }
        }
        var events: [SpanEvent] = []
        if let text: String = row["events"], let decoded = try? decoder.decode([StoredEvent].self, from: Data(text.utf8)) {
            events = decoded.map(\.event)
        }
        let resource = TypedAttribute.decode(row["resource"], decoder)
        let start: Int64 = row["start_ns"]
        let duration: Int64 = row["duration_ns"]
        return TelemetrySpan(
            traceID: row["trace_id"], spanID: row["span_id"], parentSpanID: row["parent_span_id"], service: row["service"],
            instance: row["instance"], kind: SpanRecord.Kind(otlpNumber: row["kind"]), name: row["name"],
            startNanos: UInt64(bitPattern: start), durationNanos: UInt64(bitPattern: duration),
            status: status(row["status"]), statusMessage: row["status_message"], attributes: attributes,
            events: events, resource: resource, scope: row["scope"])
    }
}

/// The HTTP method, target and status of a span, whichever generation of OpenTelemetry's
/// conventions the app's SDK follows (`http.request.method` or `http.method`, …).
struct HTTPFacts {
    var method: String?
    var target: String?
    var status: Int64?

    init(_ span: TelemetrySpan) {
        let a = span.attributes
        method = (a["http.request.method"] ?? a["http.method"])?.text
        if let path = a["url.path"]?.text {
            target = a["url.query"].map { path + "?" + $0.text } ?? path
        } else if let t = a["http.target"]?.text {
            target = t
        } else if let route = a["http.route"]?.text {
            target = route
        } else if let url = (a["url.full"] ?? a["http.url"])?.text, let u = URLComponents(string: url) {
            target = u.percentEncodedPath + (u.percentEncodedQuery.map { "?" + $0 } ?? "")
        }
        switch a["http.response.status_code"] ?? a["http.status_code"] {
        case .int(let i)?: status = i
        case .string(let s)?: status = Int64(s).flatMap { (0..<1000).contains($0) ? $0 : nil }
        case .double(let d)?: status = d.isFinite && d >= 0 && d < 1000 ? Int64(d) : nil
        default: status = nil
        }
    }
}

extension SpanRow {
    /// String attributes in `TypedAttribute`'s JSON form (`{"k":{"s":"v"}}`), written by hand:
    /// every request of a workload with policies has a few, and JSONEncoder would cost the
    /// writer thread more than the rest of the row.
    static func typedJSON(_ attributes: [(key: String, value: String)]) -> String {
        var out = "{"
        for (i, pair) in attributes.enumerated() {
            if i > 0 { out += "," }
            appendQuoted(pair.key, to: &out)
            out += ":{\"s\":"
            appendQuoted(pair.value, to: &out)
            out += "}"
        }
        return out + "}"
    }

    static func appendQuoted(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
