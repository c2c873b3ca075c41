import DevMeshCore
@testable import DevMeshStore
import Foundation
import Testing

/// Recorded exchanges through the writer into a real store file and back: headers in order with
/// repeats, binary bodies, truncation, filters, retention.
@Suite struct RecordingStoreTests {
    static func exchange(_ i: Int, service: String = "users", path: String, at time: UInt64, body: [UInt8] = Array("{\"id\":1}".utf8),
                         size: Int? = nil) -> RecordedExchange {
        RecordedExchange(
            timeNanos: time, traceID: Fixtures.id(i, length: 32), spanID: Fixtures.id(i, length: 16), service: service, listener: "gateway",
            source: "127.0.0.1", method: "POST", target: path,
            request: .init(headers: [("Content-Type", "application/json"), ("X-A", "1"), ("X-A", "2")], body: body, size: size),
            status: 201, response: .init(headers: [("Set-Cookie", "[redacted:0123456789ab]")], body: [0, 255, 10]),
            durationNanos: 1_500_000, redactions: 1)
    }

    @Test func exchangesRoundTripNewestFirst() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let now = Fixtures.nowNanos()
            writer.record(exchange: Self.exchange(1, path: "/users/1", at: now))
            writer.record(exchange: Self.exchange(2, service: "orders", path: "/orders?x=1", at: now + 1))
            writer.record(exchange: Self.exchange(3, path: "/users/2", at: now + 2, body: Array(repeating: 65, count: 10), size: 5_000_000))
            await writer.finish()

            let all = try db.recordings(RecordingFilter())
            #expect(all.map(\.target) == ["/users/2", "/orders?x=1", "/users/1"])
            let first = try #require(all.last)
            #expect(first.request.headers.map { "\($0.name): \($0.value)" } == ["Content-Type: application/json", "X-A: 1", "X-A: 2"])
            #expect(first.response.body == [0, 255, 10], "bodies are bytes, not text")
            #expect(first.status == 201)
            #expect(first.redactions == 1)
            #expect(!first.request.truncated)
            let big = try #require(all.first)
            #expect(big.request.truncated && big.request.size == 5_000_000 && big.request.body.count == 10)
            #expect(try db.recordings(RecordingFilter(service: "orders")).map(\.target) == ["/orders?x=1"])
            #expect(try db.recordings(RecordingFilter(path: "/users")).count == 2)
            #expect(try db.recordings(RecordingFilter(path: "/users_")).isEmpty, "a LIKE wildcard in a path is literal")
            #expect(try db.recordings(RecordingFilter(limit: 1)).count == 1)
            let id = try #require(first.id)
            #expect(try db.recording(id: id)?.target == "/users/1")
            #expect(try db.recording(id: 999) == nil)
        }
    }

    @Test func retentionRemovesOldRecordings() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let now = Fixtures.nowNanos()
            writer.record(exchange: Self.exchange(1, path: "/old", at: now - 10 * 86_400 * Fixtures.second))
            writer.record(exchange: Self.exchange(2, path: "/new", at: now))
            await writer.finish()
            try TelemetryRetention(maxAge: .seconds(7 * 86_400)).apply(to: db.pool, nowNanos: now)
            #expect(try db.recordings(RecordingFilter()).map(\.target) == ["/new"])
        }
    }
}
