import DevMeshCore
@testable import DevMeshRecord
import Testing

@Suite struct ReplayDiffTests {
    let json = [("Content-Type", "application/json"), ("Date", "Fri, 27 Nov 2026 05:00:00 GMT"), ("Server", "app/1")]

    func message(_ text: String, headers: [(String, String)]? = nil, size: Int? = nil) -> RecordedExchange.Message {
        RecordedExchange.Message(headers: (headers ?? json).map { ($0.0, $0.1) }, body: Array(text.utf8), size: size)
    }

    func replayed(_ text: String, status: Int = 200, headers: [(String, String)]? = nil, size: Int? = nil) -> ReplayedResponse {
        ReplayedResponse(status: status, headers: (headers ?? [("Content-Type", "application/json"), ("Date", "Fri, 27 Nov 2026 06:00:00 GMT"),
                                                               ("Server", "app/2")]).map { ($0.0, $0.1) },
                         body: Array(text.utf8), size: size)
    }

    @Test func anIdenticalAnswerIsEqualAndNamesWhatWasNotCompared() {
        let d = ReplayDiff.compare(recordedStatus: 200, recorded: message(#"{"a": 1, "b": [1, 2]}"#), replayed: replayed(#"{"b":[1,2],"a":1}"#))
        #expect(d.equal)
        #expect(d.lines.isEmpty)
        #expect(d.body.kind == "json")
        #expect(d.ignoredHeaders == ["date", "server"], "the default ignore list is named in the output")
    }

    @Test func aChangedFieldShowsWithItsPath() {
        let d = ReplayDiff.compare(recordedStatus: 200, recorded: message(#"{"items": [{"price": 10}, {"price": 5}]}"#),
                                   replayed: replayed(#"{"items": [{"price": 10}, {"price": 7}]}"#, status: 201))
        #expect(!d.equal)
        #expect(d.statusChanged)
        #expect(d.lines == ["status: 200 → 201", "$.items[1].price: 5 → 7"])
    }

    @Test func headerChangesAreComparedButNotTheIgnoreList() {
        let d = ReplayDiff.compare(recordedStatus: 200, recorded: message("ok", headers: [("X-Version", "1"), ("Date", "a")]),
                                   replayed: replayed("ok", headers: [("x-version", "2"), ("Date", "b"), ("X-New", "n")]),
                                   options: DiffOptions(extraIgnoredHeaders: ["X-New"]))
        #expect(d.headerChanges.map(\.text) == ["header x-version: 1 → 2"])
        #expect(d.ignoredHeaders == ["date", "x-new"])
    }

    @Test func ignoreRulesCountWhatTheySuppressedEvenNothing() throws {
        let rules = [try JSONDiff.IgnoreRule("$.at"), try JSONDiff.IgnoreRule("$..id")]
        let d = ReplayDiff.compare(recordedStatus: 200, recorded: message(#"{"at": 1, "n": 1}"#), replayed: replayed(#"{"at": 2, "n": 1}"#),
                                   options: DiffOptions(rules: rules))
        #expect(d.equal)
        #expect(d.body.suppressed == [.init(rule: "$.at", count: 1), .init(rule: "$..id", count: 0)])
    }

    @Test func aTruncatedRecordingIsComparedOnlyAsFarAsItWasKept() {
        let whole = String(repeating: "x", count: 100)
        // The recording kept 40 of 100 bytes; the replay read all 100.
        let same = ReplayDiff.compare(recordedStatus: 200, recorded: message(String(whole.prefix(40)), size: 100), replayed: replayed(whole))
        #expect(same.equal)
        #expect(same.body.note?.contains("truncated (40 of 100 bytes kept): only the first 40 bytes are compared") == true)
        // Different within the kept part: a difference, at its byte.
        let changed = ReplayDiff.compare(recordedStatus: 200, recorded: message("xxxxyxxxxx", size: 100), replayed: replayed(whole))
        #expect(!changed.equal)
        #expect(changed.lines == ["body differs at byte 4 (within the compared 10 bytes)"])
        // A different length is a difference too, never "equal because the prefix is".
        let shorter = ReplayDiff.compare(recordedStatus: 200, recorded: message(String(whole.prefix(40)), size: 100),
                                         replayed: replayed(String(whole.prefix(60))))
        #expect(!shorter.equal)
        // Truncated JSON is not parsed and diffed as if it were a whole document.
        let cut = ReplayDiff.compare(recordedStatus: 200, recorded: message(#"{"a": [1, 2, 3"#, size: 400), replayed: replayed(#"{"a": [1, 2, 3, 4]}"#))
        #expect(cut.body.kind != "json")
    }

    @Test func textAndBinaryBodies() {
        let text = ReplayDiff.compare(recordedStatus: 200, recorded: message("one\ntwo\nthree", headers: []),
                                      replayed: replayed("one\n2\nthree", headers: []))
        #expect(text.body.kind == "text")
        #expect(text.lines == [#"line 2: "two" → "2""#])
        let binary = ReplayDiff.compare(recordedStatus: 200,
                                        recorded: RecordedExchange.Message(body: [0xFF, 0x00, 0x01]),
                                        replayed: ReplayedResponse(status: 200, headers: [], body: [0xFF, 0x00, 0x02]))
        #expect(binary.body.kind == "binary")
        #expect(binary.lines == ["bytes differ from byte 2 (3 → 3 bytes)"])
    }

    @Test func gzipAnswersAreComparedDecoded() {
        let plain = #"{"a": 1}"#
        let gz = GzipTestData.gzip(Array(plain.utf8))
        let d = ReplayDiff.compare(recordedStatus: 200, recorded: message(plain, headers: [("X-Devmesh-Decoded", "gzip")]),
                                   replayed: ReplayedResponse(status: 200, headers: [("Content-Encoding", "gzip")], body: gz))
        #expect(d.equal, "\(d.lines)")
    }

    @Test func redactedFieldsCompareByTheirMarkers() {
        let redactor = Redactor(key: Array("a user's key of 32 bytes, random".utf8))
        let finisher = RecordingFinisher(redactor: redactor)
        let recorded = message(#"{"token": "\#(redactor.marker("t-123456"))", "echo": "Bearer \#(redactor.marker("fresh-token"))"}"#)
        let same = ReplayDiff.compare(recordedStatus: 200, recorded: recorded,
                                      replayed: replayed(#"{"token": "t-123456", "echo": "Bearer fresh-token"}"#),
                                      redaction: (finisher, ["fresh-token"]))
        #expect(same.equal, "the same secret gives the same marker: \(same.lines)")
        let other = ReplayDiff.compare(recordedStatus: 200, recorded: recorded,
                                       replayed: replayed(#"{"token": "t-999999", "echo": "Bearer fresh-token"}"#),
                                       redaction: (finisher, ["fresh-token"]))
        #expect(other.lines.count == 1)
        #expect(!other.lines[0].contains("t-999999"), "a replay never prints a secret: \(other.lines)")
    }
}

enum GzipTestData {
    static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        DevMeshOTLPGzip.deflate(bytes)
    }
}
