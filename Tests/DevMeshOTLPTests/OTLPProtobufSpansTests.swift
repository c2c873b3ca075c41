import DevMeshCore
import DevMeshOTLP
import Foundation
import Testing

@Suite("OTLP protobuf spans")
struct OTLPProtobufSpansTests {
    // MARK: - Decoding a full request

    @Test("two resources, typed attributes, events, status: every TelemetrySpan field")
    func decodesFullRequest() throws {
        let start: UInt64 = 1_700_000_000_123_456_789
        var server = PB.span(
            traceID: traceBytes, spanID: spanBytes, parent: parentBytes, name: "GET /users", kind: .server,
            start: start, end: start + 1_500_000,
            attributes: [
                PB.kv("http.method", PB.string("GET")),
                PB.kv("retry", PB.bool(true)),
                PB.kv("http.status_code", PB.int(500)),
                PB.kv("negative", PB.int(-42)),
                PB.kv("ratio", PB.double(0.25)),
                PB.kv("tags", PB.array([PB.string("a"), PB.int(2), PB.bool(false)])),
                PB.kv("nested", PB.kvlist([PB.kv("x", PB.int(1)), PB.kv("y", PB.string("z"))])),
                PB.kv("raw", PB.bytes([0x00, 0x01, 0xFF])),
            ])
        server.status.code = .error
        server.status.message = "upstream failed"
        var exception = PBSpan.Event()
        exception.name = "exception"
        exception.timeUnixNano = start + 1_000
        exception.attributes = [PB.kv("exception.message", PB.string("boom")), PB.kv("attempt", PB.int(3))]
        var retry = PBSpan.Event()
        retry.name = "retry"
        retry.timeUnixNano = start + 2_000
        server.events = [exception, retry]

        // end before start: a duration of 0, not an underflow.
        var client = PB.span(traceID: traceBytes, spanID: [1, 2, 3, 4, 5, 6, 7, 8], parent: spanBytes, name: "SELECT",
                             kind: .client, start: start + 10, end: start + 5)
        client.status.code = .ok

        let other = PB.span(traceID: [0xFF] + Array(repeating: 0, count: 15), spanID: [0, 0, 0, 0, 0, 0, 0, 9],
                            name: "consume", kind: .consumer, start: 5, end: 5)

        let body = try PB.traceBody([
            PB.resourceSpans([
                PB.kv("service.name", PB.string("users")),
                PB.kv("service.instance.id", PB.string("users.1")),
                PB.kv("host.name", PB.string("box")),
                PB.kv("process.pid", PB.int(4242)),
            ], scope: "io.opentelemetry.http", [server, client]),
            PB.resourceSpans([
                PB.kv("deployment.environment", PB.string("dev")),
                PB.kv("service.name", PB.string("orders")),
            ], scope: "", [other]),
        ])

        let spans = try OTLPProtobuf.spans(from: body)
        #expect(spans.count == 3)
        guard spans.count == 3 else { return }

        let userResource: [String: AttributeValue] = ["host.name": .string("box"), "process.pid": .int(4242)]
        #expect(spans[0] == TelemetrySpan(
            traceID: traceHex, spanID: spanHex, parentSpanID: parentHex, service: "users", instance: "users.1",
            kind: .server, name: "GET /users", startNanos: start, durationNanos: 1_500_000, status: .error,
            statusMessage: "upstream failed",
            attributes: [
                "http.method": .string("GET"),
                "retry": .bool(true),
                "http.status_code": .int(500),
                "negative": .int(-42),
                "ratio": .double(0.25),
                "tags": .array([.string("a"), .int(2), .bool(false)]),
                "nested": .map(["x": .int(1), "y": .string("z")]),
                "raw": .bytes([0x00, 0x01, 0xFF]),
            ],
            events: [
                SpanEvent(name: "exception", timeNanos: start + 1_000,
                          attributes: ["exception.message": .string("boom"), "attempt": .int(3)]),
                SpanEvent(name: "retry", timeNanos: start + 2_000),
            ],
            resource: userResource, scope: "io.opentelemetry.http"))

        #expect(spans[1] == TelemetrySpan(
            traceID: traceHex, spanID: "0102030405060708", parentSpanID: spanHex, service: "users", instance: "users.1",
            kind: .client, name: "SELECT", startNanos: start + 10, durationNanos: 0, status: .ok,
            statusMessage: nil, resource: userResource, scope: "io.opentelemetry.http"))
        #expect(spans[1].endNanos == spans[1].startNanos)

        #expect(spans[2] == TelemetrySpan(
            traceID: "ff000000000000000000000000000000", spanID: "0000000000000009", parentSpanID: nil,
            service: "orders", instance: nil, kind: .consumer, name: "consume", startNanos: 5, durationNanos: 0,
            status: .unset, resource: ["deployment.environment": .string("dev")], scope: nil))
    }

    @Test("resource without service.name is unknown_service; kind unspecified is internal")
    func defaults() throws {
        let body = try PB.traceBody([PB.resourceSpans([], scope: "s", [
            PB.span(traceID: traceBytes, spanID: spanBytes, kind: .unspecified),
        ])])
        let spans = try OTLPProtobuf.spans(from: body)
        #expect(spans.map(\.service) == ["unknown_service"])
        #expect(spans.map(\.instance) == [nil])
        #expect(spans.map(\.kind) == [.internal])
        #expect(spans.first?.resource == [:])
    }

    @Test("an empty body is an empty request")
    func emptyBody() throws {
        #expect(try OTLPProtobuf.spans(from: []).isEmpty)
    }

    // MARK: - Bad input

    @Test("bytes that are not protobuf are refused", arguments: [
        Array("this is not protobuf at all".utf8),
        [UInt8](repeating: 0xFF, count: 16),          // a varint longer than 10 bytes
        [0x0A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01],          // field 1, length far beyond the body
        [0x0B],                                        // start group with no end
        [0x0F, 0x00],                                  // wire type 7
    ])
    func garbage(_ body: [UInt8]) {
        let error = #expect(throws: OTLPPayloadError.self) { try OTLPProtobuf.spans(from: body) }
        #expect(error?.message.contains("ExportTraceServiceRequest") == true)
    }

    @Test("a truncated message is refused")
    func truncated() throws {
        let body = try PB.traceBody([PB.span(traceID: traceBytes, spanID: spanBytes, name: "a long enough name")])
        #expect(try OTLPProtobuf.spans(from: body).count == 1)
        for cut in [1, 5, body.count / 2, body.count - 1] {
            #expect(throws: OTLPPayloadError.self, "cut \(cut) bytes") {
                try OTLPProtobuf.spans(from: Array(body.dropLast(cut)))
            }
        }
    }

    @Test("ids with the wrong length or all zeros are refused, naming the field")
    func badIDs() throws {
        let cases: [(PBSpan, [String])] = [
            (PB.span(traceID: Array(traceBytes.prefix(15)), spanID: spanBytes), ["traceId", "15 bytes", "16"]),
            (PB.span(traceID: traceBytes + [1], spanID: spanBytes), ["traceId", "17 bytes"]),
            (PB.span(traceID: [], spanID: spanBytes), ["traceId", "0 bytes"]),
            (PB.span(traceID: Array(repeating: 0, count: 16), spanID: spanBytes), ["traceId", "all zeros"]),
            (PB.span(traceID: traceBytes, spanID: spanBytes + [7]), ["spanId", "9 bytes", "8"]),
            (PB.span(traceID: traceBytes, spanID: []), ["spanId", "0 bytes"]),
            (PB.span(traceID: traceBytes, spanID: Array(repeating: 0, count: 8)), ["spanId", "all zeros"]),
            (PB.span(traceID: traceBytes, spanID: spanBytes, parent: [1, 2, 3]), ["parentSpanId", "3 bytes"]),
        ]
        for (span, words) in cases {
            let body = try PB.traceBody([span])
            let error = #expect(throws: OTLPPayloadError.self) { try OTLPProtobuf.spans(from: body) }
            for word in words {
                #expect(error?.message.contains(word) == true, "\(error?.message ?? "no error") should mention \(word)")
            }
        }
    }

    @Test("the error names the index of the bad span")
    func badIDIndex() throws {
        let good = PB.span(traceID: traceBytes, spanID: spanBytes)
        let bad = PB.span(traceID: traceBytes, spanID: [1, 2, 3])
        let body = try PB.traceBody([good, good, bad])
        let error = #expect(throws: OTLPPayloadError.self) { try OTLPProtobuf.spans(from: body) }
        #expect(error?.message.contains("item 2") == true)
    }

    // MARK: - Limits

    @Test("more spans than maxItems (across resources) are refused; exactly maxItems pass")
    func maxItems() throws {
        var limits = OTLPLimits()
        limits.maxItems = 3
        func spans(_ n: Int) -> [PBSpan] {
            (0..<n).map { PB.span(traceID: traceBytes, spanID: [0, 0, 0, 0, 0, 0, 0, UInt8($0 + 1)]) }
        }
        let three = try PB.traceBody([
            PB.resourceSpans([PB.kv("service.name", PB.string("a"))], scope: "s", spans(2)),
            PB.resourceSpans([PB.kv("service.name", PB.string("b"))], scope: "s", spans(1)),
        ])
        #expect(try OTLPProtobuf.spans(from: three, limits: limits).count == 3)

        let four = try PB.traceBody([
            PB.resourceSpans([PB.kv("service.name", PB.string("a"))], scope: "s", spans(2)),
            PB.resourceSpans([PB.kv("service.name", PB.string("b"))], scope: "s", spans(2)),
        ])
        let error = #expect(throws: OTLPPayloadError.self) { try OTLPProtobuf.spans(from: four, limits: limits) }
        #expect(error?.message.contains("more than 3 spans") == true)
    }

    @Test("attributes beyond maxAttributes are dropped (span, resource, event, nested)")
    func maxAttributes() throws {
        var limits = OTLPLimits()
        limits.maxAttributes = 4
        let many = (0..<10).map { PB.kv("k\($0)", PB.int(Int64($0))) }
        var span = PB.span(traceID: traceBytes, spanID: spanBytes, attributes: many + [
            PB.kv("list", PB.array((0..<10).map { PB.int(Int64($0)) })),
        ])
        var event = PBSpan.Event()
        event.name = "e"
        event.attributes = many
        span.events = [event]
        let body = try PB.traceBody([PB.resourceSpans(
            [PB.kv("service.name", PB.string("svc"))] + many, scope: "s", [span])])

        let decoded = try #require(try OTLPProtobuf.spans(from: body, limits: limits).first)
        #expect(decoded.attributes.count == 4)
        #expect(decoded.attributes == ["k0": .int(0), "k1": .int(1), "k2": .int(2), "k3": .int(3)])
        #expect(decoded.events.first?.attributes.count == 4)
        // service.name is the first of 4 kept; the other 3 remain.
        #expect(decoded.service == "svc")
        #expect(decoded.resource == ["k0": .int(0), "k1": .int(1), "k2": .int(2)])

        // An array inside a value is bounded the same way.
        let listSpan = PB.span(traceID: traceBytes, spanID: spanBytes, attributes: [
            PB.kv("list", PB.array((0..<10).map { PB.int(Int64($0)) })),
            PB.kv("map", PB.kvlist(many)),
        ])
        let listDecoded = try #require(try OTLPProtobuf.spans(from: try PB.traceBody([listSpan]), limits: limits).first)
        #expect(listDecoded.attributes["list"] == .array([.int(0), .int(1), .int(2), .int(3)]))
        if case .map(let m)? = listDecoded.attributes["map"] { #expect(m.count == 4) } else { Issue.record("map missing") }
    }

    @Test("events beyond maxEvents are dropped")
    func maxEvents() throws {
        var limits = OTLPLimits()
        limits.maxEvents = 2
        var span = PB.span(traceID: traceBytes, spanID: spanBytes)
        span.events = (0..<5).map { i in
            var e = PBSpan.Event()
            e.name = "e\(i)"
            e.timeUnixNano = UInt64(i)
            return e
        }
        let decoded = try OTLPProtobuf.spans(from: try PB.traceBody([span]), limits: limits)
        #expect(decoded.first?.events.map(\.name) == ["e0", "e1"])
    }

    @Test("values nested deeper than maxDepth are replaced")
    func maxDepth() throws {
        var limits = OTLPLimits()
        limits.maxDepth = 2
        let span = PB.span(traceID: traceBytes, spanID: spanBytes, attributes: [
            PB.kv("deep", PB.array([PB.array([PB.array([PB.string("x")])])])),
        ])
        let decoded = try OTLPProtobuf.spans(from: try PB.traceBody([span]), limits: limits)
        #expect(decoded.first?.attributes["deep"] == .array([.array([.string("…")])]))
    }

    @Test("string values over maxValueBytes are cut on a UTF-8 boundary")
    func maxValueBytes() throws {
        var limits = OTLPLimits()
        limits.maxValueBytes = 10
        // "€" is 3 bytes (E2 82 AC) at bytes 9…11: a cut at 10 lands inside it.
        let euro = "abcdefghi€xyz"
        // "é" is 2 bytes at 9…10: a cut at 10 lands inside it.
        let acute = "abcdefghié"
        let ascii = "abcdefghijklmnop"
        let exact = "abcdefghij"
        let emoji = "ab😀😀😀"       // 2 + 4 + 4 + 4 bytes: cut at 10 is exactly after the second emoji
        var span = PB.span(traceID: traceBytes, spanID: spanBytes, name: "0123456789ABC", attributes: [
            PB.kv("euro", PB.string(euro)),
            PB.kv("acute", PB.string(acute)),
            PB.kv("ascii", PB.string(ascii)),
            PB.kv("exact", PB.string(exact)),
            PB.kv("emoji", PB.string(emoji)),
            PB.kv("bytes", PB.bytes(Array(0..<20))),
            PB.kv("inner", PB.array([PB.string(euro)])),
        ])
        span.status.code = .error
        span.status.message = "€€€€€"   // 15 bytes
        let decoded = try #require(try OTLPProtobuf.spans(from: try PB.traceBody([span]), limits: limits).first)
        #expect(decoded.attributes["euro"] == .string("abcdefghi…"))
        #expect(decoded.attributes["acute"] == .string("abcdefghi…"))
        #expect(decoded.attributes["ascii"] == .string("abcdefghij…"))
        #expect(decoded.attributes["exact"] == .string("abcdefghij"))
        #expect(decoded.attributes["emoji"] == .string("ab😀😀…"))
        #expect(decoded.attributes["bytes"] == .bytes(Array(0..<10)))
        #expect(decoded.attributes["inner"] == .array([.string("abcdefghi…")]))
        #expect(decoded.name == "0123456789…")
        #expect(decoded.statusMessage == "€€€…")
        for case .string(let s) in decoded.attributes.values {
            #expect(s.utf8.count <= 10 + "…".utf8.count)
            #expect(String(validating: Array(s.utf8), as: UTF8.self) != nil)
        }
    }

    @Test("keys longer than 256 bytes are cut")
    func longKeys() throws {
        let key = String(repeating: "k", count: 300)
        let span = PB.span(traceID: traceBytes, spanID: spanBytes, attributes: [PB.kv(key, PB.int(1)), PB.kv("", PB.int(2))])
        let decoded = try #require(try OTLPProtobuf.spans(from: try PB.traceBody([span])).first)
        #expect(decoded.attributes == [String(repeating: "k", count: 256) + "…": .int(1)])
    }
}
