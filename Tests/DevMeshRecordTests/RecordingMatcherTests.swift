import DevMeshCore
import DevMeshRecord
import Testing

/// Which recording answers a call to an external in replay modes, and the hints of a miss.
@Suite struct RecordingMatcherTests {
    func exchange(_ id: Int64, _ method: String, _ target: String, headers: [(String, String)] = [], body: String = "",
                  status: Int? = 200, responseSize: Int? = nil) -> RecordedExchange {
        RecordedExchange(id: id, timeNanos: 0, traceID: "t", spanID: "s", service: "external-payments", listener: "external",
                         method: method, target: target,
                         request: .init(headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(body.utf8)),
                         status: status, response: .init(body: Array("ok".utf8), size: responseSize), durationNanos: 0)
    }

    @Test func theNewestExactMatchAnswersWithQueryOrderIgnored() {
        let matcher = RecordingMatcher()
        let candidates = [exchange(3, "GET", "/charges?b=2&a=1"), exchange(2, "GET", "/charges?a=1&b=2"), exchange(1, "POST", "/charges")]
        guard case .match(let found) = matcher.match(exchange(0, "GET", "/charges?a=1&b=2"), among: candidates) else {
            Issue.record("no match")
            return
        }
        #expect(found.id == 3, "newest first, parameter order does not matter")
    }

    @Test func configuredHeadersAndBodyFieldsMustBeEqual() {
        let matcher = RecordingMatcher(headers: ["Idempotency-Key"], bodyFields: ["order.id"])
        let recorded = exchange(5, "POST", "/charges", headers: [("idempotency-key", "k1")], body: #"{"order": {"id": 7}, "note": "a"}"#)
        let same = exchange(0, "POST", "/charges", headers: [("Idempotency-Key", "k1")], body: #"{"note": "b", "order": {"id": 7}}"#)
        guard case .match = matcher.match(same, among: [recorded]) else {
            Issue.record("fields not configured (note) are not compared")
            return
        }
        let other = exchange(0, "POST", "/charges", headers: [("Idempotency-Key", "k2")], body: #"{"order": {"id": 8}}"#)
        guard case .miss(let closest) = matcher.match(other, among: [recorded]) else {
            Issue.record("a different key and order id must not match")
            return
        }
        #expect(closest.first?.differences == ["header idempotency-key: k1", "body order.id: 7"])
    }

    @Test func aMissNamesTheClosestRecordingsBestFirst() {
        let candidates = [
            exchange(9, "DELETE", "/refunds/1"),
            exchange(8, "GET", "/charges?id=7"),
            exchange(7, "GET", "/charges/7/lines"),
            exchange(6, "GET", "/charges?id=8", responseSize: 5000),
        ]
        guard case .miss(let closest) = RecordingMatcher().match(exchange(0, "GET", "/charges?id=8"), among: candidates) else {
            Issue.record("a truncated answer never matches")
            return
        }
        #expect(closest.map(\.id) == [6, 8, 7])
        #expect(closest[0].differences.first?.contains("cut at `recording.max_body`") == true)
        #expect(closest[1].differences == ["query id=7"])
        #expect(closest[2].differences.first == "path /charges/7/lines")
    }
}
