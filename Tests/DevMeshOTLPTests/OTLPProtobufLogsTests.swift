import DevMeshCore
import DevMeshOTLP
import Foundation
import Testing

@Suite("OTLP protobuf logs")
struct OTLPProtobufLogsTests {
    let resource = [
        PB.kv("service.name", PB.string("users")),
        PB.kv("service.instance.id", PB.string("users.2")),
        PB.kv("host.name", PB.string("box")),
    ]

    @Test("severity, bodies, ids, times and attributes")
    func decodes() throws {
        var error = PBLogRecord()
        error.timeUnixNano = 1_700_000_000_000_000_001
        error.observedTimeUnixNano = 1_700_000_000_000_000_999
        error.severityNumber = .error
        error.body = PB.string("payment failed")
        error.traceID = Data(traceBytes)
        error.spanID = Data(spanBytes)
        error.attributes = [PB.kv("code.function", PB.string("pay")), PB.kv("attempt", PB.int(2))]

        var warning = PBLogRecord()
        warning.observedTimeUnixNano = 42          // no time: the observed time stands in
        warning.severityText = "warning"
        warning.severityNumber = .info             // the text wins over the number
        warning.body = PB.kvlist([PB.kv("b", PB.string("x")), PB.kv("a", PB.int(1))])

        var plain = PBLogRecord()
        plain.timeUnixNano = 7
        plain.body = PB.int(12)

        let logs = try OTLPProtobuf.logs(from: try PB.logsBody(resource, [error, warning, plain]))
        #expect(logs.count == 3)
        guard logs.count == 3 else { return }
        #expect(logs[0] == TelemetryLog(
            timeNanos: 1_700_000_000_000_000_001, service: "users", instance: "users.2", stream: "otlp",
            severity: "ERROR", body: "payment failed", traceID: traceHex, spanID: spanHex,
            attributes: ["code.function": .string("pay"), "attempt": .int(2)]))
        #expect(logs[1] == TelemetryLog(
            timeNanos: 42, service: "users", instance: "users.2", stream: "otlp", severity: "WARN",
            body: "{a=1,b=x}", traceID: nil, spanID: nil))
        #expect(logs[2] == TelemetryLog(
            timeNanos: 7, service: "users", instance: "users.2", stream: "otlp", severity: nil, body: "12"))
    }

    @Test("severity numbers map to OpenTelemetry's texts", arguments: [
        (1, "TRACE"), (4, "TRACE"), (5, "DEBUG"), (9, "INFO"), (12, "INFO"), (13, "WARN"), (16, "WARN"),
        (17, "ERROR"), (20, "ERROR"), (21, "FATAL"), (24, "FATAL"),
    ])
    func severityNumber(_ number: Int, _ text: String) throws {
        var record = PBLogRecord()
        record.timeUnixNano = 1
        record.severityNumber = try #require(Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: number))
        let logs = try OTLPProtobuf.logs(from: try PB.logsBody(resource, [record]))
        #expect(logs.first?.severity == text)
    }

    @Test("severity texts are normalized", arguments: [
        ("warning", "WARN"), ("Error", "ERROR"), ("information", "INFO"), ("critical", "FATAL"),
        ("verbose", "VERBOSE"), ("a-very-long-custom-level", "A-VERY-LONG-CUST"),
    ])
    func severityText(_ given: String, _ expected: String) throws {
        var record = PBLogRecord()
        record.timeUnixNano = 1
        record.severityText = given
        let logs = try OTLPProtobuf.logs(from: try PB.logsBody(resource, [record]))
        #expect(logs.first?.severity == expected)
    }

    @Test("no time and no observed time: now")
    func timeFallsBackToNow() throws {
        var record = PBLogRecord()
        record.body = PB.string("x")
        let before = UInt64(Date().timeIntervalSince1970 * 1e9)
        let logs = try OTLPProtobuf.logs(from: try PB.logsBody(resource, [record]))
        let after = UInt64(Date().timeIntervalSince1970 * 1e9)
        let time = try #require(logs.first?.timeNanos)
        #expect(time >= before - 1_000_000 && time <= after + 1_000_000)
    }

    @Test("bad ids, garbage and too many records are refused")
    func refusals() throws {
        var shortTrace = PBLogRecord()
        shortTrace.traceID = Data(traceBytes.prefix(15))
        var error = #expect(throws: OTLPPayloadError.self) {
            try OTLPProtobuf.logs(from: try PB.logsBody(resource, [shortTrace]))
        }
        #expect(error?.message.contains("traceId") == true)

        var longSpan = PBLogRecord()
        longSpan.traceID = Data(traceBytes)
        longSpan.spanID = Data(spanBytes + [1])
        error = #expect(throws: OTLPPayloadError.self) {
            try OTLPProtobuf.logs(from: try PB.logsBody(resource, [longSpan]))
        }
        #expect(error?.message.contains("spanId") == true)

        error = #expect(throws: OTLPPayloadError.self) {
            try OTLPProtobuf.logs(from: Array("definitely not protobuf".utf8))
        }
        #expect(error?.message.contains("ExportLogsServiceRequest") == true)

        var limits = OTLPLimits()
        limits.maxItems = 2
        let three = try PB.logsBody(resource, Array(repeating: PBLogRecord(), count: 3))
        error = #expect(throws: OTLPPayloadError.self) { try OTLPProtobuf.logs(from: three, limits: limits) }
        #expect(error?.message.contains("more than 2 log records") == true)
    }

    @Test("a long body is cut on a character boundary")
    func longBody() throws {
        var limits = OTLPLimits()
        limits.maxValueBytes = 4
        var record = PBLogRecord()
        record.timeUnixNano = 1
        record.body = PB.string("aé€z")      // 1 + 2 + 3 + 1 bytes: 4 lands inside "€"
        let logs = try OTLPProtobuf.logs(from: try PB.logsBody(resource, [record]), limits: limits)
        #expect(logs.first?.body == "aé…")
    }
}
