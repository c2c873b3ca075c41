import DevMeshCore
import Foundation
import Testing

@Suite struct TelemetryModelTests {
    static func hop(listener: String = "egress", status: Int = 503, error: String? = "upstream-refused") -> HopRecord {
        HopRecord(
            listener: listener, service: "orders", instance: listener == "inbound" ? "orders.1" : nil, upstreamName: "users",
            traceID: "0af7651916cd43dd8448eb211c80319c", spanID: "b7ad6b7169203331", parentSpanID: "00f067aa0ba902b7",
            method: "GET", target: "/users/42?x=\"q\"", host: "127.0.0.1:7001", userAgent: "curl/8\u{1}", minorVersion: 1,
            status: status, error: error, startNanos: 1_700_000_000_123_456_789, durationNanos: 1_234_567,
            endpointName: "users.2", endpointHost: "127.0.0.1", endpointPort: 40001, attempts: 3, bytesIn: 10, bytesOut: 20)
    }

    @Test func spanSemantics() {
        let client = Self.hop(status: 404, error: nil).span()
        #expect(client.kind == .client)
        #expect(client.status == .error, "a client span with 4xx is an error")
        let server = Self.hop(listener: "inbound", status: 404, error: nil).span()
        #expect(server.kind == .server)
        #expect(server.status == .unset, "a server span with 4xx is not")
        #expect(server.name == "GET /users/42")
        #expect(server.attributes["url.query"] == "x=\"q\"")
    }

    @Test func traceparent() {
        let t = TraceContext.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        #expect(t == TraceContext(traceID: "0af7651916cd43dd8448eb211c80319c", spanID: "b7ad6b7169203331", flags: 1))
        #expect(t?.header(spanID: "00f067aa0ba902b7") == "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01")
        for bad in ["", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0", "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x"] {
            #expect(TraceContext.parse(bad) == nil, "\(bad)")
        }
        // A future version may carry more fields.
        #expect(TraceContext.parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra") != nil)
        let flagged = TraceContext.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ab")
        #expect(flagged?.flags == 0xAB)
        #expect(flagged?.header(spanID: "00f067aa0ba902b7") == "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-ab")
        #expect(TraceContext(traceID: "0af7651916cd43dd8448eb211c80319c", spanID: "b7ad6b7169203331", flags: 0)
            .header(spanID: "00f067aa0ba902b7") == "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-00")
        var rng = SplitMix64(seed: 1)
        let generator = TraceIDGenerator()
        for _ in 0..<100 {
            let id = generator.traceID(using: &rng), span = generator.spanID(using: &rng)
            #expect(id.count == 32 && id != String(repeating: "0", count: 32))
            #expect(span.count == 16 && span.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
            // What devmesh generates, it parses back.
            let ctx = TraceContext(traceID: id, spanID: span)
            #expect(TraceContext.parse(ctx.header(spanID: span)) == ctx)
        }
    }
}

@Suite struct RecordingEncodingTests {
    @Test func base64RoundTripsEveryLength() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(($0 * 37 + 11) & 0xFF) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("ok\n".utf8)) == "b2sK")
        #expect(Base64.decode("not*base64") == nil)
    }

    @Test func isoTimesFormatInUTC() {
        #expect(ISOTime.format(nanos: 0) == "1970-01-01T00:00:00.000Z")
        #expect(ISOTime.format(nanos: 1_795_756_850_123_000_000) == "2026-11-27T05:20:50.123Z")
        #expect(ISOTime.parseNanos(ISOTime.format(nanos: 951_782_400_000_000_000)) == 951_782_400_000_000_000, "2000-02-29")
    }
}
