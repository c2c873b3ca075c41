import DevMeshCore
import DevMeshTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import DevMeshAPI

/// The admin API on a real loopback socket: what only a raw client can send (any Host header), and
/// the live log stream, read as it arrives.
@Suite struct AdminListenerTests {
    let telemetry = FakeTelemetry()

    func app() -> some ApplicationProtocol {
        Application(router: AdminAPI.router(control: FakeStack(), token: "t", telemetry: telemetry),
                    configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    static func get(_ path: String, host: String, extra: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\(extra)Connection: close\r\n\r\n"
    }

    @Test func foreignHostNamesAreRefused() async throws {
        try await app().test(.live) { client in
            let port = try #require(client.port)
            for host in ["evil.test", "evil.test:\(port)", "127.0.0.1.evil.test", "localhost.evil.test", "[::2]", "10.0.0.1", ""] {
                let reply = try await RawHTTPClient.exchange(port: port, Self.get("/api/v1/status", host: host))
                #expect(reply.statuses == [421], "Host: \(host) → \(reply.text.prefix(200))")
                #expect(reply.text.contains("answers only to 127.0.0.1, localhost or [::1]"))
                #expect(!reply.text.contains("\"services\""), "nothing of the stack leaks")
            }
            for host in ["127.0.0.1:\(port)", "localhost:\(port)", "LOCALHOST", "[::1]:\(port)"] {
                let reply = try await RawHTTPClient.exchange(port: port, Self.get("/api/v1/status", host: host))
                #expect(reply.statuses == [200], "Host: \(host)")
            }
            // A page of the UI is refused the same way (a rebinding page cannot load it to script it).
            let page = try await RawHTTPClient.exchange(port: port, Self.get("/", host: "evil.test"))
            #expect(page.statuses == [421])
        }
    }

    @Test func logStreamSendsStoredThenNewLinesAsEvents() async throws {
        for i in 1...3 {
            telemetry.append(TelemetryLog(id: Int64(i), timeNanos: UInt64(i), service: "users", instance: "users.1", stream: "stdout",
                                          body: "old \(i) <b>"))
        }
        try await app().test(.live) { client in
            let port = try #require(client.port)
            let events = Observed<String>()
            async let reply = RawHTTPClient.exchange(port: port, Self.get("/api/v1/logs/stream?service=users&limit=2", host: "127.0.0.1"),
                                                     timeout: .seconds(20)) { bytes in
                let text = String(decoding: bytes, as: UTF8.self)
                events.append(text)
                return text.components(separatedBy: "event: log\n").count - 1 >= 4
            }
            // The two newest stored lines arrive first; then the stream follows the store.
            _ = await events.first(timeout: .seconds(10)) { $0.contains("old 3") }
            telemetry.append(TelemetryLog(id: 4, timeNanos: 4, service: "orders", instance: nil, stream: "stdout", body: "not for this filter"))
            telemetry.append(TelemetryLog(id: 5, timeNanos: 5, service: "users", instance: nil, stream: "stdout", body: "new 5"))
            _ = await events.first(timeout: .seconds(10)) { $0.contains("new 5") }
            telemetry.append(TelemetryLog(id: 6, timeNanos: 6, service: "users", instance: nil, stream: "stderr", body: "new 6"))
            let text = try await reply.text
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(text.lowercased().contains("content-type: text/event-stream"))
            let ids = text.split(separator: "\n").filter { $0.hasPrefix("id: ") }.map { $0.dropFirst(4) }
            #expect(ids == ["2", "3", "5", "6"])
            #expect(!text.contains("old 1"), "only the newest `limit` stored lines")
            #expect(!text.contains("not for this filter"))
            #expect(text.contains("\"body\":\"old 3 <b>\""), "data is the log line's JSON")
        }
    }

    @Test func logStreamResumesAfterLastEventID() async throws {
        for i in 1...5 {
            telemetry.append(TelemetryLog(id: Int64(i), timeNanos: UInt64(i), service: "users", instance: nil, stream: "stdout", body: "line \(i)"))
        }
        try await app().test(.live) { client in
            let port = try #require(client.port)
            let reply = try await RawHTTPClient.exchange(port: port, Self.get("/api/v1/logs/stream", host: "localhost", extra: "Last-Event-ID: 3\r\n"),
                                                         timeout: .seconds(20)) { bytes in
                String(decoding: bytes, as: UTF8.self).contains("line 5")
            }
            let ids = reply.text.split(separator: "\n").filter { $0.hasPrefix("id: ") }
            #expect(ids == ["id: 4", "id: 5"])
            let bad = try await RawHTTPClient.exchange(port: port, Self.get("/api/v1/logs/stream?trace=xyz", host: "localhost"))
            #expect(bad.statuses == [400])
        }
    }
}
