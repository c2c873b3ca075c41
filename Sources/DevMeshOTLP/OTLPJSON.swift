import DevMeshCore
import Foundation

/// OTLP/HTTP JSON bodies (the protobuf JSON mapping with OTLP's own rules: trace and span ids
/// are hex, not base64; 64-bit integers may be strings; enums are numbers). Read by hand from
/// `JSONSerialization` because a generic protobuf JSON decoder would read the ids as base64.
public enum OTLPJSON {
    public static func spans(from body: [UInt8], limits: OTLPLimits = OTLPLimits()) throws -> [TelemetrySpan] {
        let root = try object(body, what: "ExportTraceServiceRequest")
        var out: [TelemetrySpan] = []
        for resourceSpans in try list(root, "resourceSpans", "resource_spans") {
            let resource = OTLPResource(attributes(try list(dict(resourceSpans, "resource"), "attributes"), limits))
            for scopeSpans in try list(resourceSpans, "scopeSpans", "scope_spans") {
                let scopeName = dict(scopeSpans, "scope")["name"] as? String
                for span in try list(scopeSpans, "spans") {
                    guard out.count < limits.maxItems else {
                        throw OTLPPayloadError("more than \(limits.maxItems) spans in one request; send smaller batches")
                    }
                    let index = out.count
                    guard let traceID = try hexID(span, ["traceId", "trace_id"], length: 32, index: index) else {
                        throw OTLPPayloadError("span \(index): `traceId` is missing")
                    }
                    guard let spanID = try hexID(span, ["spanId", "span_id"], length: 16, index: index) else {
                        throw OTLPPayloadError("span \(index): `spanId` is missing")
                    }
                    let parent = try hexID(span, ["parentSpanId", "parent_span_id"], length: 16, index: index)
                    let start = try uint64(span, ["startTimeUnixNano", "start_time_unix_nano"], index: index) ?? 0
                    let end = max(try uint64(span, ["endTimeUnixNano", "end_time_unix_nano"], index: index) ?? start, start)
                    let statusObject = dict(span, "status")
                    let code = (statusObject["code"] as? NSNumber)?.intValue ?? 0
                    let status: SpanRecord.Status = code == 1 ? .ok : code == 2 ? .error : .unset
                    let message = statusObject["message"] as? String
                    var events: [SpanEvent] = []
                    for event in try list(span, "events").prefix(limits.maxEvents) {
                        events.append(SpanEvent(
                            name: OTLPText.cut(event["name"] as? String ?? "", limits.maxValueBytes),
                            timeNanos: try uint64(event, ["timeUnixNano", "time_unix_nano"], index: index) ?? start,
                            attributes: attributes(try list(event, "attributes"), limits)))
                    }
                    out.append(TelemetrySpan(
                        traceID: traceID, spanID: spanID, parentSpanID: parent, service: resource.service,
                        instance: resource.instance, kind: SpanRecord.Kind(otlpNumber: (span["kind"] as? NSNumber)?.intValue ?? 0),
                        name: OTLPText.cut(span["name"] as? String ?? "", limits.maxValueBytes), startNanos: start,
                        durationNanos: end - start, status: status,
                        statusMessage: message.flatMap { $0.isEmpty ? nil : OTLPText.cut($0, limits.maxValueBytes) },
                        attributes: attributes(try list(span, "attributes"), limits), events: events,
                        resource: resource.rest, scope: scopeName.flatMap { $0.isEmpty ? nil : $0 }))
                }
            }
        }
        return out
    }

    public static func logs(from body: [UInt8], limits: OTLPLimits = OTLPLimits()) throws -> [TelemetryLog] {
        let root = try object(body, what: "ExportLogsServiceRequest")
        var out: [TelemetryLog] = []
        for resourceLogs in try list(root, "resourceLogs", "resource_logs") {
            let resource = OTLPResource(attributes(try list(dict(resourceLogs, "resource"), "attributes"), limits))
            for scopeLogs in try list(resourceLogs, "scopeLogs", "scope_logs") {
                for record in try list(scopeLogs, "logRecords", "log_records") {
                    guard out.count < limits.maxItems else {
                        throw OTLPPayloadError("more than \(limits.maxItems) log records in one request; send smaller batches")
                    }
                    let index = out.count
                    let time = try uint64(record, ["timeUnixNano", "time_unix_nano"], index: index)
                        ?? uint64(record, ["observedTimeUnixNano", "observed_time_unix_nano"], index: index)
                        ?? UInt64(Date().timeIntervalSince1970 * 1e9)
                    let body = (record["body"] as? [String: Any]).map { value($0, limits, depth: 0).text } ?? ""
                    out.append(TelemetryLog(
                        timeNanos: time, service: resource.service, instance: resource.instance, stream: "otlp",
                        severity: OTLPSeverity.text(record["severityText"] as? String ?? "",
                                                    number: (record["severityNumber"] as? NSNumber)?.intValue ?? 0),
                        body: OTLPText.cut(body, limits.maxValueBytes),
                        traceID: try hexID(record, ["traceId", "trace_id"], length: 32, index: index),
                        spanID: try hexID(record, ["spanId", "span_id"], length: 16, index: index),
                        attributes: attributes(try list(record, "attributes"), limits)))
                }
            }
        }
        return out
    }

    // MARK: - Helpers

    static func object(_ body: [UInt8], what: String) throws -> [String: Any] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(body), options: [])
        } catch {
            throw OTLPPayloadError("the body is not valid JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "parse error"))")
        }
        guard let object = parsed as? [String: Any] else {
            throw OTLPPayloadError("the body must be a JSON object (an OTLP \(what))")
        }
        return object
    }

    static func dict(_ object: [String: Any], _ key: String) -> [String: Any] {
        object[key] as? [String: Any] ?? [:]
    }

    static func list(_ object: [String: Any], _ keys: String...) throws -> [[String: Any]] {
        for key in keys {
            guard let value = object[key], !(value is NSNull) else { continue }
            guard let array = value as? [[String: Any]] else {
                throw OTLPPayloadError("`\(key)` must be a list of objects")
            }
            return array
        }
        return []
    }

    static func hexID(_ object: [String: Any], _ keys: [String], length: Int, index: Int) throws -> String? {
        guard let key = keys.first(where: { object[$0] != nil }), let raw = object[key] as? String else { return nil }
        if raw.isEmpty { return nil }
        let id = raw.lowercased()
        guard id.utf8.count == length, id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw OTLPPayloadError("item \(index): `\(key)` must be \(length) hex digits (OTLP JSON ids are hex, not base64), not `\(raw.prefix(64))`")
        }
        guard id.contains(where: { $0 != "0" }) else {
            throw OTLPPayloadError("item \(index): `\(key)` is all zeros (an invalid id)")
        }
        return id
    }

    static func uint64(_ object: [String: Any], _ keys: [String], index: Int) throws -> UInt64? {
        guard let key = keys.first(where: { object[$0] != nil }) else { return nil }
        switch object[key] {
        case let s as String:
            guard let v = UInt64(s) else { throw OTLPPayloadError("item \(index): `\(key)` must be an unsigned integer, not `\(s.prefix(32))`") }
            return v
        case let n as NSNumber:
            // Exact integers through their digits (a wrapped `uint64Value` would be silently wrong).
            if let exact = UInt64(n.stringValue) { return exact }
            let d = n.doubleValue
            guard d.isFinite, d >= 0, d < 18_446_744_073_709_549_568 else {
                throw OTLPPayloadError("item \(index): `\(key)` is out of range for Unix nanoseconds")
            }
            return UInt64(d)
        default:
            throw OTLPPayloadError("item \(index): `\(key)` must be a number or a string of digits")
        }
    }

    static func attributes(_ list: [[String: Any]], _ limits: OTLPLimits) -> [String: AttributeValue] {
        var out: [String: AttributeValue] = [:]
        for kv in list.prefix(limits.maxAttributes) {
            guard let key = kv["key"] as? String, !key.isEmpty else { continue }
            out[OTLPText.cut(key, 256)] = (kv["value"] as? [String: Any]).map { value($0, limits, depth: 0) } ?? .string("")
        }
        return out
    }

    static func value(_ v: [String: Any], _ limits: OTLPLimits, depth: Int) -> AttributeValue {
        guard depth < limits.maxDepth else { return .string("…") }
        if let s = v["stringValue"] as? String { return .string(OTLPText.cut(s, limits.maxValueBytes)) }
        if let b = v["boolValue"] as? Bool { return .bool(b) }
        if let i = v["intValue"] {
            if let s = i as? String, let n = Int64(s) { return .int(n) }
            if let n = i as? NSNumber { return .int(n.int64Value) }
        }
        if let d = v["doubleValue"] {
            if let n = d as? NSNumber { return .double(n.doubleValue) }
            if let s = d as? String, let n = Double(s) { return .double(n) }
        }
        if let a = v["arrayValue"] as? [String: Any] {
            let values = a["values"] as? [[String: Any]] ?? []
            return .array(values.prefix(limits.maxAttributes).map { value($0, limits, depth: depth + 1) })
        }
        if let m = v["kvlistValue"] as? [String: Any] {
            var out: [String: AttributeValue] = [:]
            for kv in (m["values"] as? [[String: Any]] ?? []).prefix(limits.maxAttributes) {
                guard let key = kv["key"] as? String else { continue }
                out[OTLPText.cut(key, 256)] = (kv["value"] as? [String: Any]).map { value($0, limits, depth: depth + 1) } ?? .string("")
            }
            return .map(out)
        }
        if let b = v["bytesValue"] as? String, let data = Data(base64Encoded: b) { return .bytes(Array(data.prefix(limits.maxValueBytes))) }
        return .string("")
    }
}
