import DevMeshCore
import DevMeshOTLP
import Foundation
import Testing

@Suite("OTLP JSON")
struct OTLPJSONTests {
    /// The shape of OpenTelemetry's own example (opentelemetry-proto/examples/trace.json), with more value types.
    static let example = """
    {
      "resourceSpans": [
        {
          "resource": {
            "attributes": [
              { "key": "service.name", "value": { "stringValue": "my.service" } },
              { "key": "service.instance.id", "value": { "stringValue": "my.service.1" } },
              { "key": "host.name", "value": { "stringValue": "box" } }
            ]
          },
          "scopeSpans": [
            {
              "scope": { "name": "my.library", "version": "1.0.0", "attributes": [] },
              "spans": [
                {
                  "traceId": "5B8EFFF798038103D269B633813FC60C",
                  "spanId": "EEE19B7EC3C1B174",
                  "parentSpanId": "EEE19B7EC3C1B173",
                  "name": "I'm a server span",
                  "startTimeUnixNano": "1544712660000000000",
                  "endTimeUnixNano": "1544712661000000000",
                  "kind": 2,
                  "attributes": [
                    { "key": "http.method", "value": { "stringValue": "GET" } },
                    { "key": "http.status_code", "value": { "intValue": "200" } },
                    { "key": "count", "value": { "intValue": 7 } },
                    { "key": "ratio", "value": { "doubleValue": 0.5 } },
                    { "key": "whole", "value": { "doubleValue": 3 } },
                    { "key": "ok", "value": { "boolValue": true } },
                    { "key": "no", "value": { "boolValue": false } },
                    { "key": "list", "value": { "arrayValue": { "values": [ { "stringValue": "a" }, { "intValue": "-2" } ] } } },
                    { "key": "map", "value": { "kvlistValue": { "values": [ { "key": "x", "value": { "boolValue": true } } ] } } },
                    { "key": "raw", "value": { "bytesValue": "AAH/" } },
                    { "key": "empty", "value": {} }
                  ],
                  "events": [
                    { "name": "exception", "timeUnixNano": "1544712660500000000",
                      "attributes": [ { "key": "exception.message", "value": { "stringValue": "boom" } } ] },
                    { "name": "no time" }
                  ],
                  "status": { "code": 2, "message": "failed" }
                },
                {
                  "traceId": "5b8efff798038103d269b633813fc60c",
                  "spanId": "eee19b7ec3c1b175",
                  "name": "client",
                  "startTimeUnixNano": 1544712660000000000,
                  "endTimeUnixNano": 1544712650000000000,
                  "kind": 3,
                  "status": { "code": 1 }
                }
              ]
            }
          ]
        },
        {
          "resource": { "attributes": [] },
          "scopeSpans": [ { "spans": [ { "traceId": "00000000000000000000000000000001", "spanId": "0000000000000001" } ] } ]
        }
      ]
    }
    """

    @Test("the OTLP/JSON example shape decodes to exact spans")
    func example() throws {
        let spans = try OTLPJSON.spans(from: jsonBytes(Self.example))
        #expect(spans.count == 3)
        guard spans.count == 3 else { return }
        #expect(spans[0] == TelemetrySpan(
            traceID: "5b8efff798038103d269b633813fc60c", spanID: "eee19b7ec3c1b174", parentSpanID: "eee19b7ec3c1b173",
            service: "my.service", instance: "my.service.1", kind: .server, name: "I'm a server span",
            startNanos: 1_544_712_660_000_000_000, durationNanos: 1_000_000_000, status: .error, statusMessage: "failed",
            attributes: [
                "http.method": .string("GET"),
                "http.status_code": .int(200),
                "count": .int(7),
                "ratio": .double(0.5),
                "whole": .double(3),
                "ok": .bool(true),
                "no": .bool(false),
                "list": .array([.string("a"), .int(-2)]),
                "map": .map(["x": .bool(true)]),
                "raw": .bytes([0x00, 0x01, 0xFF]),
                "empty": .string(""),
            ],
            events: [
                SpanEvent(name: "exception", timeNanos: 1_544_712_660_500_000_000,
                          attributes: ["exception.message": .string("boom")]),
                SpanEvent(name: "no time", timeNanos: 1_544_712_660_000_000_000),
            ],
            resource: ["host.name": .string("box")], scope: "my.library"))
        #expect(spans[1] == TelemetrySpan(
            traceID: "5b8efff798038103d269b633813fc60c", spanID: "eee19b7ec3c1b175", parentSpanID: nil,
            service: "my.service", instance: "my.service.1", kind: .client, name: "client",
            startNanos: 1_544_712_660_000_000_000, durationNanos: 0, status: .ok, statusMessage: nil,
            resource: ["host.name": .string("box")], scope: "my.library"))
        #expect(spans[2] == TelemetrySpan(
            traceID: "00000000000000000000000000000001", spanID: "0000000000000001", parentSpanID: nil,
            service: "unknown_service", instance: nil, kind: .internal, name: "", startNanos: 0, durationNanos: 0,
            status: .unset, scope: nil))
    }

    @Test("snake_case (proto field names) is accepted for the structure, ids and times")
    func snakeCase() throws {
        let body = """
        { "resource_spans": [ {
            "resource": { "attributes": [ { "key": "service.name", "value": { "stringValue": "snake" } } ] },
            "scope_spans": [ { "scope": { "name": "s" }, "spans": [ {
                "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174",
                "parent_span_id": "eee19b7ec3c1b173", "name": "n", "kind": 2,
                "start_time_unix_nano": "100", "end_time_unix_nano": "250",
                "events": [ { "name": "e", "time_unix_nano": "120" } ] } ] } ] } ] }
        """
        let spans = try OTLPJSON.spans(from: jsonBytes(body))
        #expect(spans == [TelemetrySpan(
            traceID: "5b8efff798038103d269b633813fc60c", spanID: "eee19b7ec3c1b174", parentSpanID: "eee19b7ec3c1b173",
            service: "snake", instance: nil, kind: .server, name: "n", startNanos: 100, durationNanos: 150,
            status: .unset, events: [SpanEvent(name: "e", timeNanos: 120)], scope: "s")])
    }

    @Test("logs: severity, bodies, ids, time fallback, snake_case")
    func logs() throws {
        let body = """
        { "resourceLogs": [ {
            "resource": { "attributes": [
                { "key": "service.name", "value": { "stringValue": "users" } },
                { "key": "service.instance.id", "value": { "stringValue": "users.1" } } ] },
            "scopeLogs": [ { "scope": { "name": "s" }, "logRecords": [
                { "timeUnixNano": "1544712660300000000", "observedTimeUnixNano": "1544712660300000999",
                  "severityNumber": 17, "body": { "stringValue": "payment failed" },
                  "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174",
                  "attributes": [ { "key": "attempt", "value": { "intValue": "2" } } ] },
                { "observedTimeUnixNano": "99", "severityText": "warning", "severityNumber": 9,
                  "body": { "kvlistValue": { "values": [
                      { "key": "b", "value": { "stringValue": "x" } }, { "key": "a", "value": { "intValue": 1 } } ] } } }
            ] } ] },
          { "resource_logs_is_not_a_key": true }
        ],
          "resource_logs": [] }
        """
        let logs = try OTLPJSON.logs(from: jsonBytes(body))
        #expect(logs == [
            TelemetryLog(timeNanos: 1_544_712_660_300_000_000, service: "users", instance: "users.1", stream: "otlp",
                         severity: "ERROR", body: "payment failed", traceID: "5b8efff798038103d269b633813fc60c",
                         spanID: "eee19b7ec3c1b174", attributes: ["attempt": .int(2)]),
            TelemetryLog(timeNanos: 99, service: "users", instance: "users.1", stream: "otlp", severity: "WARN",
                         body: "{a=1,b=x}"),
        ])

        let snake = """
        { "resource_logs": [ { "scope_logs": [ { "log_records": [
            { "time_unix_nano": "5", "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174",
              "body": { "stringValue": "hi" } },
            { "observed_time_unix_nano": 6 } ] } ] } ] }
        """
        let snakeLogs = try OTLPJSON.logs(from: jsonBytes(snake))
        #expect(snakeLogs == [
            TelemetryLog(timeNanos: 5, service: "unknown_service", instance: nil, stream: "otlp", body: "hi",
                         traceID: "5b8efff798038103d269b633813fc60c", spanID: "eee19b7ec3c1b174"),
            TelemetryLog(timeNanos: 6, service: "unknown_service", instance: nil, stream: "otlp", body: ""),
        ])
    }

    // MARK: - Refusals

    static func span(_ fields: String) -> [UInt8] {
        jsonBytes(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{\#(fields)}]}]}]}"#)
    }

    static let goodIDs = #""traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174""#

    @Test("bad JSON, not an object, wrong types", arguments: [
        ("{\"resourceSpans\": [", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ("\"resourceSpans\"", "JSON"),          // a fragment: refused by the parser or as not an object
        ("42", "JSON"),
        ("{\"resourceSpans\": \"many\"}", "`resourceSpans` must be a list"),
        ("{\"resourceSpans\": [1, 2]}", "`resourceSpans` must be a list"),
        ("{\"resourceSpans\": [{\"scopeSpans\": {}}]}", "`scopeSpans` must be a list"),
        ("{\"resourceSpans\": [{\"scopeSpans\": [{\"spans\": 3}]}]}", "`spans` must be a list"),
        ("{\"resourceSpans\": [{\"resource\": {\"attributes\": \"x\"}}]}", "`attributes` must be a list"),
    ])
    func refused(_ body: String, _ words: String) {
        let error = #expect(throws: OTLPPayloadError.self) { try OTLPJSON.spans(from: jsonBytes(body)) }
        #expect(error?.message.contains(words) == true, "\(error?.message ?? "no error")")
    }

    @Test("ids: base64, wrong length, non-hex, all zeros, missing", arguments: [
        // The 24 characters of the base64 a generic protobuf JSON encoder writes for 16 bytes.
        (#""traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"eee19b7ec3c1b174""#, ["traceId", "hex"]),
        (#""traceId":"5b8efff798038103d269b633813fc60c","spanId":"7uGbfsPBsXQ=""#, ["spanId", "hex"]),
        (#""traceId":"5b8efff798038103d269b633813fc60","spanId":"eee19b7ec3c1b174""#, ["traceId", "32 hex"]),
        (#""traceId":"5b8efff798038103d269b633813fc60g","spanId":"eee19b7ec3c1b174""#, ["traceId", "hex"]),
        (#""traceId":"00000000000000000000000000000000","spanId":"eee19b7ec3c1b174""#, ["traceId", "all zeros"]),
        (#""traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000000""#, ["spanId", "all zeros"]),
        (#""traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"ab""#, ["parentSpanId", "16 hex"]),
        (#""spanId":"eee19b7ec3c1b174""#, ["traceId", "missing"]),
        (#""traceId":"","spanId":"eee19b7ec3c1b174""#, ["traceId", "missing"]),
        (#""traceId":"5b8efff798038103d269b633813fc60c""#, ["spanId", "missing"]),
    ])
    func badIDs(_ fields: String, _ words: [String]) {
        let error = #expect(throws: OTLPPayloadError.self) { try OTLPJSON.spans(from: Self.span(fields)) }
        for word in words {
            #expect(error?.message.contains(word) == true, "\(error?.message ?? "no error") should mention \(word)")
        }
    }

    @Test("bad times", arguments: [
        #""startTimeUnixNano":"-1""#,
        #""startTimeUnixNano":"12abc""#,
        #""startTimeUnixNano":"18446744073709551616""#,
        #""startTimeUnixNano":-5"#,
        #""startTimeUnixNano":1e30"#,
        #""endTimeUnixNano":[1]"#,
    ])
    func badTimes(_ time: String) {
        #expect(throws: OTLPPayloadError.self) { try OTLPJSON.spans(from: Self.span(Self.goodIDs + "," + time)) }
    }

    /// BUG: 18500000000000000000 is above UInt64.max (18446744073709551615) but under the 1.9e19 bound
    /// the range check uses; JSONSerialization reads it as an NSDecimalNumber whose `uint64Value` wraps,
    /// so the span is stored with a start time of 53255926290448384 instead of the body being refused.
    @Test("a number time just above UInt64.max is refused, not wrapped")
    func timeAboveUInt64Max() throws {
        let body = Self.span(Self.goodIDs + #","startTimeUnixNano":18500000000000000000"#)
        #expect(throws: OTLPPayloadError.self) {
            let spans = try OTLPJSON.spans(from: body)
            Issue.record("accepted with startNanos \(spans.first?.startNanos ?? 0)")
        }
    }

    /// BUG: `Character.isHexDigit` accepts the fullwidth forms ("ａ" U+FF41, 3 UTF-8 bytes), and the
    /// length is checked in UTF-8 bytes, so 29 "a" + "ａ" (32 bytes) passes as a trace id that is
    /// not hex (and that `OTLPIDs.bytes` would turn into 14½ bytes on export).
    @Test("non-ASCII hex digits are not hex")
    func fullwidthHex() {
        let trace = String(repeating: "a", count: 29) + "ａ"
        let body = Self.span(#""traceId":"\#(trace)","spanId":"eee19b7ec3c1b174""#)
        let error = #expect(throws: OTLPPayloadError.self) {
            let spans = try OTLPJSON.spans(from: body)
            Issue.record("accepted trace id \(spans.first?.traceID ?? "")")
        }
        #expect(error?.message.contains("hex") == true)
    }

    @Test("log ids are checked too")
    func badLogIDs() {
        let body = #"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"W47/95gDgQPSabYzgT/GDA=="}]}]}]}"#
        let error = #expect(throws: OTLPPayloadError.self) { try OTLPJSON.logs(from: jsonBytes(body)) }
        #expect(error?.message.contains("hex") == true)
        #expect(throws: OTLPPayloadError.self) { try OTLPJSON.logs(from: jsonBytes("[]")) }
        #expect(throws: OTLPPayloadError.self) { try OTLPJSON.logs(from: jsonBytes(#"{"resourceLogs":"x"}"#)) }
    }

    @Test("limits apply to JSON as to protobuf")
    func limits() throws {
        var limits = OTLPLimits()
        limits.maxItems = 1
        let two = jsonBytes(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{\#(Self.goodIDs)},{\#(Self.goodIDs)}]}]}]}"#)
        let error = #expect(throws: OTLPPayloadError.self) { try OTLPJSON.spans(from: two, limits: limits) }
        #expect(error?.message.contains("more than 1 spans") == true)

        limits = OTLPLimits()
        limits.maxAttributes = 2
        limits.maxValueBytes = 10
        let attributes = (0..<5).map { #"{"key":"k\#($0)","value":{"stringValue":"abcdefghi€xyz"}}"# }.joined(separator: ",")
        let body = Self.span(Self.goodIDs + #","attributes":[\#(attributes)]"#)
        let span = try #require(try OTLPJSON.spans(from: body, limits: limits).first)
        #expect(span.attributes == ["k0": .string("abcdefghi…"), "k1": .string("abcdefghi…")])
    }
}
