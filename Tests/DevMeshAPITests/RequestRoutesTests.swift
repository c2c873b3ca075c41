import DevMeshCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOConcurrencyHelpers
import Testing

@testable import DevMeshAPI

/// Two recordings; replay answers a canned diff, refuses the target `nowhere`, and records what
/// it was asked.
final class FakeRecordings: RequestReplaying {
    struct Diff: Encodable, Sendable { var equal: Bool; var target: String? }
    let filters = NIOLockedValueBox<[RecordingFilter]>([])
    let replays = NIOLockedValueBox<[(Int64, String?)]>([])
    let exchanges = [
        RecordedExchange(id: 2, timeNanos: 1_795_756_850_000_000_000, traceID: "4bf92f3577b34da6a3ce929d0e0e4736", spanID: "00f067aa0ba902b7",
                         service: "devmesh-gateway", listener: "gateway", source: "127.0.0.1", method: "GET", target: "/api/orders",
                         request: .init(headers: [("Host", "localhost:8443"), ("Authorization", "Bearer [redacted:0a1b2c3d4e5f]")]),
                         status: 200, response: .init(headers: [("Content-Type", "application/json")], body: Array(#"{"id":1}"#.utf8), size: 40),
                         durationNanos: 3_200_000, redactions: 1),
        RecordedExchange(id: 1, timeNanos: 1_795_756_849_000_000_000, traceID: "aa", spanID: "bb", service: "users", listener: "inbound",
                         method: "POST", target: "/users", request: .init(body: [0xFF, 0x00]), status: nil, response: .init(),
                         durationNanos: 1),
    ]

    func recordings(_ filter: RecordingFilter) async throws -> [RecordingSummary] {
        filters.withLockedValue { $0.append(filter) }
        return exchanges.filter { filter.service == nil || $0.service == filter.service }.map(RecordingSummary.init)
    }

    func recording(id: Int64) async throws -> RecordedExchange? { exchanges.first { $0.id == id } }

    func replay(id: Int64, target: String?) async throws -> (any Encodable & Sendable)? {
        replays.withLockedValue { $0.append((id, target)) }
        if target == "nowhere" { throw ReplayRefused("no service `nowhere`") }
        return exchanges.contains { $0.id == id } ? Diff(equal: true, target: target) : nil
    }
}

@Suite struct RequestRoutesTests {
    static let token = "secret-token"
    let recordings = FakeRecordings()

    func app() -> some ApplicationProtocol {
        Application(router: AdminAPI.router(control: FakeStack(), token: Self.token, requests: recordings))
    }

    func object(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    @Test func listFiltersAndDetail() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/api/v1/requests?service=devmesh-gateway&path=/api&since=15m&limit=5", method: .get) { response in
                #expect(response.status == .ok)
                let list = try #require(try object(response)["requests"] as? [[String: Any]])
                #expect(list.count == 1)
                #expect(list[0]["target"] as? String == "/api/orders")
                #expect(list[0]["time"] as? String == "2026-11-27T05:20:50.000Z")
                #expect(list[0]["response_truncated"] as? Bool == true)
                #expect(list[0]["host"] as? String == "localhost:8443")
            }
            let filter = try #require(recordings.filters.withLockedValue { $0.first })
            #expect(filter.service == "devmesh-gateway" && filter.path == "/api" && filter.limit == 5 && filter.sinceNanos != nil)
            for bad in ["limit=0", "path=api", "since=forever", "colour=red"] {
                try await client.execute(uri: "/api/v1/requests?\(bad)", method: .get) { #expect($0.status == .badRequest, "\(bad)") }
            }
            try await client.execute(uri: "/api/v1/requests/2", method: .get) { response in
                #expect(response.status == .ok)
                let detail = try object(response)
                #expect((detail["request_headers"] as? [[String]])?.last == ["Authorization", "Bearer [redacted:0a1b2c3d4e5f]"])
                #expect((detail["response_body"] as? [String: Any])?["text"] as? String == #"{"id":1}"#)
                #expect((detail["response_body"] as? [String: Any])?["kept"] as? Int == 8)
            }
            try await client.execute(uri: "/api/v1/requests/1", method: .get) { response in
                let detail = try object(response)
                #expect((detail["request_body"] as? [String: Any])?["base64"] as? String == "/wA=")
                #expect(detail["status"] == nil || detail["status"] is NSNull)
            }
            try await client.execute(uri: "/api/v1/requests/9", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/api/v1/requests/x", method: .get) { #expect($0.status == .badRequest) }
        }
    }

    @Test func replayIsAPostWithTheToken() async throws {
        try await app().test(.router) { client in
            let url = "/api/v1/requests/2/replay"
            try await client.execute(uri: url, method: .post, body: ByteBuffer(string: "{}")) { #expect($0.status == .forbidden) }
            #expect(recordings.replays.withLockedValue { $0.isEmpty }, "nothing is sent without the token")
            let signed: HTTPFields = [.init("x-devmesh-token")!: Self.token, .contentType: "application/json"]
            try await client.execute(uri: url, method: .post, headers: signed, body: ByteBuffer(string: #"{"target": "orders"}"#)) { response in
                #expect(response.status == .ok)
                let diff = try object(response)
                #expect(diff["equal"] as? Bool == true)
            }
            try await client.execute(uri: url, method: .post, headers: signed) { #expect($0.status == .ok) }
            try await client.execute(uri: url, method: .post, headers: signed, body: ByteBuffer(string: #"{"target": "nowhere"}"#)) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("no service `nowhere`"))
            }
            try await client.execute(uri: url, method: .post, headers: signed, body: ByteBuffer(string: "not json")) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/api/v1/requests/9/replay", method: .post, headers: signed) { #expect($0.status == .notFound) }
            let targets = recordings.replays.withLockedValue { $0.map(\.1) }
            #expect(targets == ["orders", nil, "nowhere", nil])
        }
    }
}
