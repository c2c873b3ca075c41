import DevMeshCore
import Testing

@Suite struct TraceReferenceTests {
    static let trace = "0af7651916cd43dd8448eb211c80319c"
    static let span = "b7ad6b7169203331"

    @Test func traceparentInsideText() {
        let r = TraceReference.find(in: "GET /users/42 200 traceparent=00-\(Self.trace)-\(Self.span)-01 in 3ms")
        #expect(r == TraceReference(traceID: Self.trace, spanID: Self.span, level: nil))
        let atStart = TraceReference.find(in: "00-\(Self.trace)-\(Self.span)-01")
        #expect(atStart?.traceID == Self.trace)
        #expect(atStart?.spanID == Self.span)
    }

    /// `00` is the "not sampled" flags value: a valid traceparent (W3C Trace Context, trace-flags).
    @Test func traceparentWithUnsampledFlags() {
        let r = TraceReference.find(in: "handled traceparent=00-\(Self.trace)-\(Self.span)-00")
        #expect(r?.traceID == Self.trace)
        #expect(r?.spanID == Self.span)
    }

    @Test(arguments: [
        "{\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\",\"span_id\":\"b7ad6b7169203331\",\"msg\":\"hi\"}",
        "{\"traceId\": \"0af7651916cd43dd8448eb211c80319c\", \"spanId\": \"b7ad6b7169203331\"}",
        "{ \"msg\": \"x\", \"spanId\": \"b7ad6b7169203331\", \"traceId\":\"0af7651916cd43dd8448eb211c80319c\" }",
        "msg=hello trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331",
        "msg=hello trace_id='0af7651916cd43dd8448eb211c80319c' span_id=\"b7ad6b7169203331\"",
    ])
    func fields(_ line: String) {
        let r = TraceReference.find(in: line)
        #expect(r?.traceID == Self.trace, "\(line)")
        #expect(r?.spanID == Self.span, "\(line)")
    }

    @Test func traceWithoutSpan() {
        let r = TraceReference.find(in: "trace_id=\(Self.trace) done")
        #expect(r?.traceID == Self.trace)
        #expect(r?.spanID == nil)
    }

    @Test func uppercaseHexIsLowercased() {
        let json = TraceReference.find(in: "{\"trace_id\":\"\(Self.trace.uppercased())\",\"span_id\":\"\(Self.span.uppercased())\"}")
        #expect(json?.traceID == Self.trace)
        #expect(json?.spanID == Self.span)
        let w3c = TraceReference.find(in: "tp 00-\(Self.trace.uppercased())-\(Self.span.uppercased())-01")
        #expect(w3c?.traceID == Self.trace)
        #expect(w3c?.spanID == Self.span)
    }

    @Test func allZeroIDsAreRejected() {
        let zeroTrace = String(repeating: "0", count: 32), zeroSpan = String(repeating: "0", count: 16)
        #expect(TraceReference.find(in: "trace_id=\(zeroTrace) span_id=\(Self.span)") == nil)
        #expect(TraceReference.find(in: "00-\(zeroTrace)-\(Self.span)-01") == nil)
        // A traceparent with a zero span id is invalid as a whole.
        #expect(TraceReference.find(in: "x 00-\(Self.trace)-\(zeroSpan)-01") == nil)
        // A zero span id field is ignored, the trace kept.
        let r = TraceReference.find(in: "trace_id=\(Self.trace) span_id=\(zeroSpan)")
        #expect(r?.traceID == Self.trace)
        #expect(r?.spanID == nil)
    }

    @Test func tooShortIDsAreRejected() {
        #expect(TraceReference.find(in: "trace_id=\(Self.trace.dropLast(2))") == nil)
        #expect(TraceReference.find(in: "trace_id=\(Self.trace.dropLast(1)) span_id=\(Self.span)") == nil)
        #expect(TraceReference.find(in: "00-\(Self.trace.dropLast())-\(Self.span)-01") == nil)
        let shortSpan = TraceReference.find(in: "trace_id=\(Self.trace) span_id=\(Self.span.dropLast(3))")
        #expect(shortSpan?.traceID == Self.trace)
        #expect(shortSpan?.spanID == nil)
    }

    @Test func idsEmbeddedInLongerHexAreNotMatched() {
        #expect(TraceReference.find(in: "trace_id=\(Self.trace)ab") == nil)
        #expect(TraceReference.find(in: "trace_id=ab\(Self.trace)") == nil)
        #expect(TraceReference.find(in: "deadbeef00-\(Self.trace)-\(Self.span)-01") == nil)
        let r = TraceReference.find(in: "trace_id=\(Self.trace) span_id=\(Self.span)ff")
        #expect(r?.traceID == Self.trace)
        #expect(r?.spanID == nil)
        // A key that merely ends in `trace_id` is another key.
        #expect(TraceReference.find(in: "parent_trace_id=\(Self.trace)") == nil)
    }

    @Test func levels() {
        #expect(TraceReference.find(in: "ts=1 level=warn msg=slow") == TraceReference(traceID: nil, spanID: nil, level: "WARN"))
        #expect(TraceReference.find(in: "{\"levelname\": \"ERROR\", \"message\": \"x\"}")?.level == "ERROR")
        #expect(TraceReference.find(in: "{\"severity\":\"Warning\"}")?.level == "WARN")
        #expect(TraceReference.find(in: "lvl=information")?.level == "INFO")
        #expect(TraceReference.find(in: "level=critical")?.level == "FATAL")
        #expect(TraceReference.find(in: "{\"level\":\"debug\"}")?.level == "DEBUG")
        // Not a level: an unknown word, or `level` inside another key.
        #expect(TraceReference.find(in: "level=banana") == nil)
        #expect(TraceReference.find(in: "loglevel=debug") == nil)
        let both = TraceReference.find(in: "{\"level\":\"error\",\"trace_id\":\"\(Self.trace)\",\"span_id\":\"\(Self.span)\"}")
        #expect(both == TraceReference(traceID: Self.trace, spanID: Self.span, level: "ERROR"))
    }

    @Test(arguments: ["", "hello world", "GET /users/42 200 12ms", "id=0af7651916cd43dd8448eb211c80319c", "00-abc-def-01"])
    func nothingFound(_ line: String) {
        #expect(TraceReference.find(in: line) == nil, "\(line)")
    }
}
