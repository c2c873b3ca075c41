import DevMeshCore
import Foundation
import Hummingbird
import NIOCore

/// What the Requests page and `devmesh requests/replay` need from the running stack.
public protocol RequestReplaying: Sendable {
    func recordings(_ filter: RecordingFilter) async throws -> [RecordingSummary]
    func recording(id: Int64) async throws -> RecordedExchange?
    /// Replays a recording and returns the diff (a JSON-encodable value); nil: no such recording.
    func replay(id: Int64, target: String?) async throws -> (any Encodable & Sendable)?
}

/// Why a replay could not be sent (an unknown target, no gateway): answered 400 with the text.
public struct ReplayRefused: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `/api/v1/requests…`: recorded exchanges (newest first), one with its bodies, and Replay.
enum RequestRoutes {
    struct Listing: Encodable {
        var requests: [RecordingSummary]
    }

    struct ReplayBody: Decodable {
        var target: String?
    }

    static func add(to router: Router<BasicRequestContext>, requests: any RequestReplaying) {
        router.get("/api/v1/requests") { request, _ -> Response in
            try await TelemetryRoutes.answer {
                let query = TelemetryRoutes.pairs(request)
                try TelemetryRoutes.requireOnly(["service", "path", "since", "limit"], in: query)
                var filter = RecordingFilter(limit: 100)
                for (key, value) in query {
                    switch key {
                    case "service": filter.service = value
                    case "path":
                        guard value.hasPrefix("/") else { throw TelemetryQueryParameters.Invalid("`path` is a path prefix starting with `/`, not `\(value.prefix(40))`") }
                        filter.path = value
                    case "since": filter.sinceNanos = try TelemetryRoutes.window(query, key: "since", default: .seconds(3600))
                    default:
                        guard let n = Int(value), (1...1000).contains(n) else {
                            throw TelemetryQueryParameters.Invalid("`limit` is a number from 1 to 1000, not `\(value.prefix(40))`")
                        }
                        filter.limit = n
                    }
                }
                return try AdminAPI.json(Listing(requests: try await requests.recordings(filter)))
            }
        }

        router.get("/api/v1/requests/:id") { _, context -> Response in
            guard let id = Int64(try context.parameters.require("id")), id > 0 else {
                return APIError.response(.badRequest, "a recording id is a positive number")
            }
            guard let exchange = try await requests.recording(id: id) else {
                return APIError.response(.notFound, "no recording #\(id) (it may have been removed by retention); `devmesh requests` lists them")
            }
            return try AdminAPI.json(RecordingDetail(exchange))
        }

        router.post("/api/v1/requests/:id/replay") { request, context -> Response in
            guard let id = Int64(try context.parameters.require("id")), id > 0 else {
                return APIError.response(.badRequest, "a recording id is a positive number")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: 4096)
            } catch {
                return APIError.response(.contentTooLarge, "a replay request is a small JSON object such as {\"target\": \"orders\"} (at most 4 KiB)")
            }
            var target: String?
            if body.readableBytes > 0 {
                guard let parsed = try? JSONDecoder().decode(ReplayBody.self, from: Data(buffer: body)) else {
                    return APIError.response(.badRequest, "the body is JSON such as {} or {\"target\": \"orders\"} (gateway, a service, or a URL)")
                }
                target = parsed.target
            }
            do {
                guard let diff = try await requests.replay(id: id, target: target) else {
                    return APIError.response(.notFound, "no recording #\(id) (it may have been removed by retention)")
                }
                return try AdminAPI.json(diff)
            } catch let refused as ReplayRefused {
                return APIError.response(.badRequest, refused.description)
            }
        }
    }
}
