@testable import DevMeshCore
import Testing

@Suite struct TraceComparisonTests {
    static func span(_ trace: String, _ id: String, _ parent: String?, _ service: String, _ name: String, start: UInt64, ms: UInt64,
                     status: Int = 200) -> TelemetrySpan {
        TelemetrySpan(traceID: trace, spanID: id, parentSpanID: parent, service: service, instance: nil, kind: .server, name: name,
                      startNanos: start, durationNanos: ms * 1_000_000, status: .unset,
                      attributes: ["http.response.status_code": .int(Int64(status))])
    }

    @Test func matchesByPlaceInTheTreeNotByPosition() {
        // B retries users (an extra call) and drops the cache lookup; inventory is a little slower (noise).
        let a = TraceDetail(traceID: "a", spans: [
            Self.span("a", "1", nil, "web", "GET /", start: 100, ms: 10),
            Self.span("a", "2", "1", "users", "GET /u", start: 200, ms: 2),
            Self.span("a", "3", "1", "cache", "GET", start: 300, ms: 1),
            Self.span("a", "4", "1", "inventory", "GET /i", start: 400, ms: 4),
            Self.span("a", "5", "4", "db", "SELECT", start: 450, ms: 3),
        ], logs: [])
        let b = TraceDetail(traceID: "b", spans: [
            Self.span("b", "1", nil, "web", "GET /", start: 1_000, ms: 10),
            Self.span("b", "2", "1", "users", "GET /u", start: 1_100, ms: 2, status: 503),
            Self.span("b", "6", "1", "users", "GET /u", start: 1_150, ms: 2),
            Self.span("b", "4", "1", "inventory", "GET /i", start: 1_200, ms: 4),
            Self.span("b", "5", "4", "db", "SELECT", start: 1_300, ms: 9),
        ], logs: [])
        let c = TraceComparison(a, b)
        #expect(c.rows.map { "\($0.depth) \($0.service) \($0.change.rawValue)" } == [
            "0 web same", "1 users status", "1 cache removed", "1 inventory same", "2 db slower", "1 users added",
        ])
        #expect(c.rows[4].deltaNanos == 6_000_000)
        #expect(c.rows[2].b == nil && c.rows[2].deltaNanos == nil)
        #expect(c.rows[5].b?.offsetNanos == 150)
        #expect(c.a.spanCount == 5 && c.b.errorCount == 1)
    }

    @Test func smallChangesAreNoise() {
        let thresholds = TraceComparison.Thresholds(ratio: 1.25, floorNanos: 1_000_000)
        func change(_ a: UInt64, _ b: UInt64) -> TraceComparison.Change {
            let x = TraceDetail(traceID: "a", spans: [Self.span("a", "1", nil, "s", "n", start: 0, ms: 0)], logs: [])
            var y = TraceDetail(traceID: "b", spans: [Self.span("b", "1", nil, "s", "n", start: 0, ms: 0)], logs: [])
            var x2 = x
            x2.spans[0].durationNanos = a
            y.spans[0].durationNanos = b
            return TraceComparison(x2, y, thresholds: thresholds).rows[0].change
        }
        #expect(change(40_000, 900_000) == .same, "under the 1 ms floor")
        #expect(change(10_000_000, 12_000_000) == .same, "under 1.25×")
        #expect(change(10_000_000, 12_500_000) == .slower)
        #expect(change(12_500_000, 10_000_000) == .faster)
    }

    @Test func deepTracesDoNotRecurse() {
        var spans: [TelemetrySpan] = []
        for i in 0..<10_000 {
            let parent: String? = i == 0 ? nil : String(i - 1)
            spans.append(Self.span("a", String(i), parent, "s", "n", start: UInt64(i), ms: 1))
        }
        let c = TraceComparison(TraceDetail(traceID: "a", spans: spans, logs: []), TraceDetail(traceID: "b", spans: Array(spans.prefix(5_000)), logs: []))
        #expect(c.rows.count == 10_000)
        #expect(c.rows.last?.depth == 9_999)
        #expect(c.rows.filter { $0.change == TraceComparison.Change.removed }.count == 5_000)
    }

    @Test func orphansAreRoots() {
        let a = TraceDetail(traceID: "a", spans: [Self.span("a", "2", "missing", "users", "GET /u", start: 0, ms: 1)], logs: [])
        let c = TraceComparison(a, a)
        #expect(c.rows.count == 1 && c.rows[0].change == .same)
    }
}

@Suite struct ISOTimeTests {
    @Test func parsesRFC3339WithZones() {
        #expect(ISOTime.parseNanos("1970-01-01T00:00:00Z") == 0)
        #expect(ISOTime.parseNanos("2026-11-26T09:30:00Z") == 1_795_685_400_000_000_000)
        #expect(ISOTime.parseNanos("2026-11-26T10:30:00+01:00") == 1_795_685_400_000_000_000)
        #expect(ISOTime.parseNanos("2026-11-26T09:30:00.123456789Z") == 1_795_685_400_123_456_789)
        #expect(ISOTime.parseNanos("2024-02-29T00:00:00z") == 1_709_164_800_000_000_000)
        for bad in ["2026-11-26T09:30:00", "2026-11-26", "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-26T25:00:00Z",
                    "2026-11-26T09:30:00.Z", "2600-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-11-26T09:30:00+0100", "1969-12-31T23:59:59Z", "x026-11-26T09:30:00Z"] {
            #expect(ISOTime.parseNanos(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct TrafficMetricsTests {
    @Test func nearestRankPercentiles() {
        #expect(TrafficMetrics.percentile([], 0.5) == nil)
        #expect(TrafficMetrics.percentile([7], 0.99) == 7)
        let hundred = (1...100).map(UInt64.init)
        #expect(TrafficMetrics.percentile(hundred, 0.5) == 50)
        #expect(TrafficMetrics.percentile(hundred, 0.99) == 99)
        let m = TrafficMetrics(durations: [3, 1, 2, 4], errors: 1, seconds: 2)
        #expect(m.requests == 4 && m.rps == 2 && m.errorRate == 0.25 && m.p50Nanos == 2 && m.p99Nanos == 4)
    }

    @Test func queryParametersRoundTrip() throws {
        let filter = TraceFilter(service: "orders", path: "/o/*", status: .code(503), minDurationNanos: 1_500_000, maxDurationNanos: 2_000_000_000,
                                 sinceNanos: 10, untilNanos: 20, attributes: [.init(key: "k", value: "a=b")], limit: 9)
        #expect(try TelemetryQueryParameters.traceFilter(TelemetryQueryParameters.query(filter), nowNanos: 0) == filter)
        #expect(TelemetryQueryParameters.isHex("00ff", length: 4...4))
        #expect(!TelemetryQueryParameters.isHex("００ff", length: 4...12), "fullwidth digits are not hex")
        #expect(!TelemetryQueryParameters.isHex("0g", length: 2...2))
        #expect(DurationParser.parse("500us") == .microseconds(500))
        #expect(DurationParser.parse(String(repeating: "999999999s", count: 20)) == nil, "a sum past 10⁹ s is refused, not overflowed")
        #expect(TelemetryQueryParameters.nanos(.seconds(Int64.max)) == .max)
    }
}
