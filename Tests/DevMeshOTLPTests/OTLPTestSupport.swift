import DevMeshCore
import DevMeshOTLP
import Foundation

// Builders for the generated OTLP messages, so the tests read like the payloads they send.

typealias PBAnyValue = Opentelemetry_Proto_Common_V1_AnyValue
typealias PBKeyValue = Opentelemetry_Proto_Common_V1_KeyValue
typealias PBSpan = Opentelemetry_Proto_Trace_V1_Span
typealias PBTraceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
typealias PBLogsRequest = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest
typealias PBLogRecord = Opentelemetry_Proto_Logs_V1_LogRecord

enum PB {
    static func string(_ s: String) -> PBAnyValue { var v = PBAnyValue(); v.stringValue = s; return v }
    static func bool(_ b: Bool) -> PBAnyValue { var v = PBAnyValue(); v.boolValue = b; return v }
    static func int(_ i: Int64) -> PBAnyValue { var v = PBAnyValue(); v.intValue = i; return v }
    static func double(_ d: Double) -> PBAnyValue { var v = PBAnyValue(); v.doubleValue = d; return v }
    static func bytes(_ b: [UInt8]) -> PBAnyValue { var v = PBAnyValue(); v.bytesValue = Data(b); return v }
    static func array(_ values: [PBAnyValue]) -> PBAnyValue {
        var list = Opentelemetry_Proto_Common_V1_ArrayValue()
        list.values = values
        var v = PBAnyValue()
        v.arrayValue = list
        return v
    }
    static func kvlist(_ values: [PBKeyValue]) -> PBAnyValue {
        var list = Opentelemetry_Proto_Common_V1_KeyValueList()
        list.values = values
        var v = PBAnyValue()
        v.kvlistValue = list
        return v
    }
    static func kv(_ key: String, _ value: PBAnyValue) -> PBKeyValue {
        var kv = PBKeyValue()
        kv.key = key
        kv.value = value
        return kv
    }

    static func span(traceID: [UInt8], spanID: [UInt8], parent: [UInt8]? = nil, name: String = "op",
                     kind: PBSpan.SpanKind = .server, start: UInt64 = 1_000, end: UInt64 = 2_000,
                     attributes: [PBKeyValue] = []) -> PBSpan {
        var s = PBSpan()
        s.traceID = Data(traceID)
        s.spanID = Data(spanID)
        if let parent { s.parentSpanID = Data(parent) }
        s.name = name
        s.kind = kind
        s.startTimeUnixNano = start
        s.endTimeUnixNano = end
        s.attributes = attributes
        return s
    }

    static func resourceSpans(_ resource: [PBKeyValue], scope: String, _ spans: [PBSpan]) -> Opentelemetry_Proto_Trace_V1_ResourceSpans {
        var rs = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        rs.resource.attributes = resource
        var ss = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        ss.scope.name = scope
        ss.spans = spans
        rs.scopeSpans = [ss]
        return rs
    }

    static func traceBody(_ resourceSpans: [Opentelemetry_Proto_Trace_V1_ResourceSpans]) throws -> [UInt8] {
        var request = PBTraceRequest()
        request.resourceSpans = resourceSpans
        return try request.serializedBytes()
    }

    /// One resource (`service.name` = svc), one scope, the given spans.
    static func traceBody(service: String = "svc", _ spans: [PBSpan]) throws -> [UInt8] {
        try traceBody([resourceSpans([kv("service.name", string(service))], scope: "test", spans)])
    }

    static func logsBody(_ resource: [PBKeyValue], _ records: [PBLogRecord]) throws -> [UInt8] {
        var rl = Opentelemetry_Proto_Logs_V1_ResourceLogs()
        rl.resource.attributes = resource
        var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        sl.scope.name = "test"
        sl.logRecords = records
        rl.scopeLogs = [sl]
        var request = PBLogsRequest()
        request.resourceLogs = [rl]
        return try request.serializedBytes()
    }
}

/// 16 bytes 0xab 0xcd 0xef 0x01 … (mixed letters and digits, so a hex encoder's case shows).
let traceBytes: [UInt8] = [0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89, 0x0A, 0x0B, 0x0C, 0x0D, 0xF0, 0xE1, 0xD2, 0xC3]
let traceHex = "abcdef01234567890a0b0c0df0e1d2c3"
let spanBytes: [UInt8] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0xFF]
let spanHex = "00112233445566ff"
let parentBytes: [UInt8] = [0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x00, 0x00, 0x01]
let parentHex = "deadbeef00000001"

func jsonBytes(_ s: String) -> [UInt8] { Array(s.utf8) }
