import DevMeshCore
import Foundation
import SwiftProtobuf

/// OTLP/HTTP protobuf bodies ↔ the store's model. Decoding validates what the store relies on
/// (16-byte trace ids, 8-byte span ids, times) and bounds everything else (`OTLPLimits`).
public enum OTLPProtobuf {
    public static func spans(from body: [UInt8], limits: OTLPLimits = OTLPLimits()) throws -> [TelemetrySpan] {
        let request: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 32
            request = try .init(serializedBytes: body, options: options)
        } catch {
            throw OTLPPayloadError("the body is not an OTLP ExportTraceServiceRequest in protobuf (\(error))")
        }
        var out: [TelemetrySpan] = []
        for resourceSpans in request.resourceSpans {
            let resource = OTLPResource(attributes(resourceSpans.resource.attributes, limits))
            for scopeSpans in resourceSpans.scopeSpans {
                let scope = scopeSpans.scope.name.isEmpty ? nil : scopeSpans.scope.name
                for span in scopeSpans.spans {
                    guard out.count < limits.maxItems else {
                        throw OTLPPayloadError("more than \(limits.maxItems) spans in one request; send smaller batches")
                    }
                    let traceID = try OTLPIDs.hex(span.traceID, bytes: 16, what: "traceId", index: out.count)
                    let spanID = try OTLPIDs.hex(span.spanID, bytes: 8, what: "spanId", index: out.count)
                    let parent = span.parentSpanID.isEmpty ? nil : try OTLPIDs.hex(span.parentSpanID, bytes: 8, what: "parentSpanId", index: out.count)
                    let start = span.startTimeUnixNano
                    let end = max(span.endTimeUnixNano, start)
                    let status: SpanRecord.Status
                    switch span.status.code {
                    case .ok: status = .ok
                    case .error: status = .error
                    default: status = .unset
                    }
                    out.append(TelemetrySpan(
                        traceID: traceID, spanID: spanID, parentSpanID: parent, service: resource.service,
                        instance: resource.instance, kind: SpanRecord.Kind(otlpNumber: span.kind.rawValue),
                        name: OTLPText.cut(span.name, limits.maxValueBytes), startNanos: start, durationNanos: end - start,
                        status: status, statusMessage: span.status.message.isEmpty ? nil : OTLPText.cut(span.status.message, limits.maxValueBytes),
                        attributes: attributes(span.attributes, limits),
                        events: span.events.prefix(limits.maxEvents).map {
                            SpanEvent(name: OTLPText.cut($0.name, limits.maxValueBytes), timeNanos: $0.timeUnixNano, attributes: attributes($0.attributes, limits))
                        },
                        resource: resource.rest, scope: scope))
                }
            }
        }
        return out
    }

    public static func logs(from body: [UInt8], limits: OTLPLimits = OTLPLimits()) throws -> [TelemetryLog] {
        let request: Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 32
            request = try .init(serializedBytes: body, options: options)
        } catch {
            throw OTLPPayloadError("the body is not an OTLP ExportLogsServiceRequest in protobuf (\(error))")
        }
        var out: [TelemetryLog] = []
        for resourceLogs in request.resourceLogs {
            let resource = OTLPResource(attributes(resourceLogs.resource.attributes, limits))
            for scopeLogs in resourceLogs.scopeLogs {
                for record in scopeLogs.logRecords {
                    guard out.count < limits.maxItems else {
                        throw OTLPPayloadError("more than \(limits.maxItems) log records in one request; send smaller batches")
                    }
                    let traceID = record.traceID.isEmpty ? nil : try OTLPIDs.hex(record.traceID, bytes: 16, what: "traceId", index: out.count)
                    let spanID = record.spanID.isEmpty ? nil : try OTLPIDs.hex(record.spanID, bytes: 8, what: "spanId", index: out.count)
                    let time = record.timeUnixNano != 0 ? record.timeUnixNano : record.observedTimeUnixNano
                    let body = record.hasBody ? value(record.body, limits, depth: 0).text : ""
                    out.append(TelemetryLog(
                        timeNanos: time != 0 ? time : UInt64(Date().timeIntervalSince1970 * 1e9), service: resource.service,
                        instance: resource.instance, stream: "otlp",
                        severity: OTLPSeverity.text(record.severityText, number: record.severityNumber.rawValue),
                        body: OTLPText.cut(body, limits.maxValueBytes), traceID: traceID, spanID: spanID,
                        attributes: attributes(record.attributes, limits)))
                }
            }
        }
        return out
    }

    static func attributes(_ list: [Opentelemetry_Proto_Common_V1_KeyValue], _ limits: OTLPLimits) -> [String: AttributeValue] {
        var out: [String: AttributeValue] = [:]
        for kv in list.prefix(limits.maxAttributes) where !kv.key.isEmpty {
            out[OTLPText.cut(kv.key, 256)] = value(kv.value, limits, depth: 0)
        }
        return out
    }

    static func value(_ v: Opentelemetry_Proto_Common_V1_AnyValue, _ limits: OTLPLimits, depth: Int) -> AttributeValue {
        guard depth < limits.maxDepth else { return .string("…") }
        switch v.value {
        case .stringValue(let s)?: return .string(OTLPText.cut(s, limits.maxValueBytes))
        case .boolValue(let b)?: return .bool(b)
        case .intValue(let i)?: return .int(i)
        case .doubleValue(let d)?: return .double(d)
        case .arrayValue(let a)?: return .array(a.values.prefix(limits.maxAttributes).map { value($0, limits, depth: depth + 1) })
        case .kvlistValue(let m)?:
            var out: [String: AttributeValue] = [:]
            for kv in m.values.prefix(limits.maxAttributes) { out[OTLPText.cut(kv.key, 256)] = value(kv.value, limits, depth: depth + 1) }
            return .map(out)
        case .bytesValue(let d)?: return .bytes(Array(d.prefix(limits.maxValueBytes)))
        default: return .string("")
        }
    }

    // MARK: - Encoding (the exporter)

    /// Spans grouped by service and instance into one ExportTraceServiceRequest.
    public static func traceRequest(_ spans: [TelemetrySpan]) -> [UInt8] {
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        var groups: [String: Int] = [:]
        for span in spans {
            let resourceKey = span.resource.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.text)" }.joined(separator: "\u{1}")
            let key = span.service + "\u{0}" + (span.instance ?? "") + "\u{0}" + (span.scope ?? "") + "\u{0}" + resourceKey
            let index: Int
            if let existing = groups[key] {
                index = existing
            } else {
                var rs = Opentelemetry_Proto_Trace_V1_ResourceSpans()
                rs.resource.attributes = keyValues(resourceAttributes(span.service, span.instance, span.resource))
                var ss = Opentelemetry_Proto_Trace_V1_ScopeSpans()
                ss.scope.name = span.scope ?? "devmesh"
                rs.scopeSpans = [ss]
                request.resourceSpans.append(rs)
                index = request.resourceSpans.count - 1
                groups[key] = index
            }
            var s = Opentelemetry_Proto_Trace_V1_Span()
            s.traceID = OTLPIDs.bytes(span.traceID)
            s.spanID = OTLPIDs.bytes(span.spanID)
            if let parent = span.parentSpanID { s.parentSpanID = OTLPIDs.bytes(parent) }
            s.name = span.name
            s.kind = Opentelemetry_Proto_Trace_V1_Span.SpanKind(rawValue: span.kind.otlpNumber) ?? .internal
            s.startTimeUnixNano = span.startNanos
            s.endTimeUnixNano = span.endNanos
            s.attributes = keyValues(span.attributes)
            s.events = span.events.map { e in
                var event = Opentelemetry_Proto_Trace_V1_Span.Event()
                event.name = e.name
                event.timeUnixNano = e.timeNanos
                event.attributes = keyValues(e.attributes)
                return event
            }
            var status = Opentelemetry_Proto_Trace_V1_Status()
            status.code = span.status == .error ? .error : span.status == .ok ? .ok : .unset
            if let m = span.statusMessage { status.message = m }
            s.status = status
            request.resourceSpans[index].scopeSpans[0].spans.append(s)
        }
        return (try? request.serializedBytes()) ?? []
    }

    public static func logsRequest(_ logs: [TelemetryLog]) -> [UInt8] {
        var request = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest()
        var groups: [String: Int] = [:]
        for log in logs {
            let key = log.service + "\u{0}" + (log.instance ?? "")
            let index: Int
            if let existing = groups[key] {
                index = existing
            } else {
                var rl = Opentelemetry_Proto_Logs_V1_ResourceLogs()
                rl.resource.attributes = keyValues(resourceAttributes(log.service, log.instance, [:]))
                var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
                sl.scope.name = "devmesh"
                rl.scopeLogs = [sl]
                request.resourceLogs.append(rl)
                index = request.resourceLogs.count - 1
                groups[key] = index
            }
            var r = Opentelemetry_Proto_Logs_V1_LogRecord()
            r.timeUnixNano = log.timeNanos
            r.observedTimeUnixNano = log.timeNanos
            var body = Opentelemetry_Proto_Common_V1_AnyValue()
            body.stringValue = log.body
            r.body = body
            if let severity = log.severity {
                r.severityText = severity
                r.severityNumber = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: OTLPSeverity.number(severity)) ?? .unspecified
            }
            if let t = log.traceID { r.traceID = OTLPIDs.bytes(t) }
            if let s = log.spanID { r.spanID = OTLPIDs.bytes(s) }
            var attributes = log.attributes
            attributes["log.iostream"] = .string(log.stream)
            r.attributes = keyValues(attributes)
            request.resourceLogs[index].scopeLogs[0].logRecords.append(r)
        }
        return (try? request.serializedBytes()) ?? []
    }

    static func resourceAttributes(_ service: String, _ instance: String?, _ rest: [String: AttributeValue]) -> [String: AttributeValue] {
        var attributes = rest
        attributes["service.name"] = .string(service)
        if let instance { attributes["service.instance.id"] = .string(instance) }
        return attributes
    }

    static func keyValues(_ attributes: [String: AttributeValue]) -> [Opentelemetry_Proto_Common_V1_KeyValue] {
        attributes.sorted { $0.key < $1.key }.map { key, value in
            var kv = Opentelemetry_Proto_Common_V1_KeyValue()
            kv.key = key
            kv.value = anyValue(value)
            return kv
        }
    }

    static func anyValue(_ value: AttributeValue) -> Opentelemetry_Proto_Common_V1_AnyValue {
        var v = Opentelemetry_Proto_Common_V1_AnyValue()
        switch value {
        case .string(let s): v.stringValue = s
        case .bool(let b): v.boolValue = b
        case .int(let i): v.intValue = i
        case .double(let d): v.doubleValue = d
        case .bytes(let b): v.bytesValue = Data(b)
        case .array(let a):
            var list = Opentelemetry_Proto_Common_V1_ArrayValue()
            list.values = a.map(anyValue)
            v.arrayValue = list
        case .map(let m):
            var list = Opentelemetry_Proto_Common_V1_KeyValueList()
            list.values = keyValues(m)
            v.kvlistValue = list
        }
        return v
    }
}

/// `service.name` and `service.instance.id` out of a resource; the rest kept as they are.
struct OTLPResource {
    var service: String
    var instance: String?
    var rest: [String: AttributeValue]

    init(_ attributes: [String: AttributeValue]) {
        var rest = attributes
        service = rest.removeValue(forKey: "service.name")?.text ?? "unknown_service"
        instance = rest.removeValue(forKey: "service.instance.id")?.text
        self.rest = rest
    }
}

enum OTLPIDs {
    private static let digits = Array("0123456789abcdef".utf8)

    static func hex(_ data: Data, bytes: Int, what: String, index: Int) throws -> String {
        guard data.count == bytes else {
            throw OTLPPayloadError("item \(index): `\(what)` has \(data.count) bytes; it must have \(bytes)")
        }
        guard data.contains(where: { $0 != 0 }) else {
            throw OTLPPayloadError("item \(index): `\(what)` is all zeros (an invalid id)")
        }
        var out = [UInt8]()
        out.reserveCapacity(bytes * 2)
        for b in data {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lower-case hex → bytes (ids the store holds are always valid hex).
    static func bytes(_ hex: String) -> Data {
        var out = Data()
        var high: UInt8?
        for c in hex.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            case 0x41...0x46: v = c - 0x41 + 10
            default: continue
            }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return out
    }
}

enum OTLPText {
    /// At most `max` bytes, cut on a character boundary.
    static func cut(_ s: String, _ max: Int) -> String {
        guard s.utf8.count > max else { return s }
        var end = s.utf8.index(s.utf8.startIndex, offsetBy: max)
        while end > s.startIndex, !s.unicodeScalars.indices.contains(end) { end = s.utf8.index(before: end) }
        return String(s[..<end]) + "…"
    }
}

/// OpenTelemetry's severity text, from the record's own text or its number (1–24).
enum OTLPSeverity {
    static func text(_ text: String, number: Int) -> String? {
        if !text.isEmpty { return TraceReference.normalizedLevel(text.uppercased()) ?? String(text.prefix(16)).uppercased() }
        switch number {
        case 1...4: return "TRACE"
        case 5...8: return "DEBUG"
        case 9...12: return "INFO"
        case 13...16: return "WARN"
        case 17...20: return "ERROR"
        case 21...24: return "FATAL"
        default: return nil
        }
    }

    static func number(_ text: String) -> Int {
        switch text {
        case "TRACE": return 1
        case "DEBUG": return 5
        case "INFO": return 9
        case "WARN": return 13
        case "ERROR": return 17
        case "FATAL": return 21
        default: return 0
        }
    }
}
