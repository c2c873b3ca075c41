import DevMeshCore
import Foundation
@testable import DevMeshRecord
import Testing

@Suite struct SuiteAndHARTests {
    let recordings = [
        RecordedExchange(id: 7, timeNanos: 1_795_756_850_000_000_000, traceID: "4bf92f3577b34da6a3ce929d0e0e4736", spanID: "00f067aa0ba902b7",
                         service: "devmesh-gateway", listener: "gateway", source: "127.0.0.1", method: "POST", target: "/api/orders?x=1",
                         request: .init(headers: [("Host", "localhost:8443"), ("Content-Type", "application/json"),
                                                  ("Authorization", "Bearer [redacted:0a1b2c3d4e5f]")],
                                        body: Array(#"{"item":"book","qty":2}"#.utf8)),
                         status: 201,
                         response: .init(headers: [("Content-Type", "application/json"), ("Date", "x"), ("Set-Cookie", "[redacted:aaaaaaaaaaaa]")],
                                         body: Array(#"{"id":12,"items":[{"price":10}]}"#.utf8)),
                         durationNanos: 3_000_000),
        RecordedExchange(id: 8, timeNanos: 1_795_756_851_000_000_000, traceID: "", spanID: "", service: "users", listener: "inbound",
                         method: "GET", target: "/users/1", request: .init(headers: [("host", "users")]), status: 200,
                         response: .init(headers: [("Content-Type", "application/octet-stream")], body: [0, 1, 2, 255], size: 10),
                         durationNanos: 1_000_000),
    ]

    @Test func aSuiteRoundTripsThroughItsYAML() throws {
        let yaml = try ReplaySuite(recordings: recordings, name: "smoke").yaml()
        #expect(yaml.contains("name: POST /api/orders"))
        #expect(yaml.contains("\"price\" : 10"), "JSON answers are pretty-printed for review:\n\(yaml)")
        #expect(!yaml.contains("Date"), "headers on the default ignore list are left out")
        let back = try ReplaySuite.parse(yaml, file: "smoke.yaml")
        #expect(back.name == "smoke")
        #expect(back.cases.count == 2)
        let a = back.cases[0].exchange, b = back.cases[1].exchange
        #expect(a.method == "POST" && a.target == "/api/orders?x=1" && a.status == 201 && a.id == 7)
        #expect(a.request.body == recordings[0].request.body, "request bodies are kept byte for byte")
        #expect(JSONValue.parse(a.response.body) == JSONValue.parse(recordings[0].response.body))
        #expect(a.request.headers.contains { $0.name == "Authorization" && $0.value == "Bearer [redacted:0a1b2c3d4e5f]" })
        #expect(b.service == "users" && b.response.body == [0, 1, 2, 255] && b.response.size == 10 && b.response.truncated)
    }

    @Test func suiteErrorsSayWhereAndWhat() {
        #expect(throws: ReplaySuite.Invalid.self) { try ReplaySuite.parse("cases: 3", file: "s.yaml") }
        do {
            _ = try ReplaySuite.parse("cases:\n  - request: {method: GET, target: /x}\n    expect: {status: 999}\n", file: "s.yaml")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("s.yaml:3:") && "\(error)".contains("expect.status"), "\(error)")
        }
        do {
            _ = try ReplaySuite.parse("cases:\n  - request: {method: GET, target: /x}\n    expected: {status: 200}\n", file: "s.yaml")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("unknown key `expected`"), "\(error)")
        }
    }

    @Test func harRoundTrip() throws {
        let data = try JSONEncoder().encode(HAR(recordings: recordings, version: "test"))
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""version":"1.2""#))
        let back = try HAR.parse(data, file: "x.har").exchanges()
        #expect(back.count == 2)
        for (a, b) in zip(back, recordings) {
            #expect(a.method == b.method && a.target == b.target && a.status == b.status && a.service == b.service)
            #expect(a.request.body == b.request.body && a.response.body == b.response.body)
            #expect(a.response.truncated == b.response.truncated)
            #expect(a.request.headers.map { $0.name + ":" + $0.value } == b.request.headers.map { $0.name + ":" + $0.value })
            #expect(a.traceID == b.traceID && a.id == b.id)
        }
    }

    @Test func aBrowsersHARImports() throws {
        let har = """
            {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"}, "entries": [
              {"startedDateTime": "2026-11-27T05:00:00.000Z", "time": 12.5,
               "request": {"method": "GET", "url": "https://shop.localhost:8443/api/catalog?page=2", "httpVersion": "h2",
                           "headers": [{"name": ":authority", "value": "shop.localhost:8443"}, {"name": "accept", "value": "*/*"}],
                           "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
               "response": {"status": 200, "statusText": "", "httpVersion": "h2", "headers": [], "cookies": [],
                            "content": {"size": 3, "mimeType": "text/plain", "text": "b2sK", "encoding": "base64"},
                            "redirectURL": "", "headersSize": -1, "bodySize": 3},
               "cache": {}, "timings": {"send": 0, "wait": 12, "receive": 0.5}}]}}
            """
        let e = try #require(try HAR.parse(Data(har.utf8), file: "b.har").exchanges().first)
        #expect(e.target == "/api/catalog?page=2")
        #expect(e.request.headers.map(\.name) == ["Host", "accept"], "pseudo-headers are not fields; Host comes from the URL")
        #expect(e.service == "devmesh-gateway")
        #expect(e.response.body == Array("ok\n".utf8))
        #expect(throws: HAR.Invalid.self) { try HAR.parse(Data("{\"log\": {}}".utf8), file: "b.har") }
    }

    @Test func replayRequestsDropWhatProxiesAddAndWarnAboutMarkers() {
        let r = ReplayRequest(recordings[0], credentials: ReplayCredentials(), keepHost: true, traceparent: "00-\(String(repeating: "a", count: 32))-\(String(repeating: "b", count: 16))-01")
        #expect(r.headers.contains { $0.name == "Host" })
        #expect(r.headers.last?.name == "traceparent")
        #expect(r.warnings.contains { $0.contains("redacted `Authorization`") })
        let fresh = ReplayRequest(recordings[0], credentials: ReplayCredentials(bearer: "new"), keepHost: false, traceparent: nil)
        #expect(!fresh.headers.contains { $0.name == "Host" })
        #expect(fresh.headers.filter { $0.name.lowercased() == "authorization" }.map(\.value) == ["Bearer new"])
        #expect(!fresh.warnings.contains { $0.contains("Authorization") })
        #expect(ReplayCredentials.parseHeader("X-Api-Key:  k1 ")! == ("X-Api-Key", "k1"))
        #expect(ReplayCredentials.parseHeader("nocolon") == nil)
    }
}
