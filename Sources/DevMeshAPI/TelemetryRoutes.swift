import DevMeshCore
import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle

/// The store as JSON: traces (search, detail, compare), logs (query, long poll, live stream) and
/// the service map. The CLI's `traces`, `trace` and `logs` and the web UI read these same
/// endpoints. Bad parameters get 400 with what to fix.
enum TelemetryRoutes {
    /// How long `/api/v1/logs?wait=…` may hold a request (long polling for `logs -f`).
    static let maxWait: Duration = .seconds(30)

    static func add(to router: Router<BasicRequestContext>, telemetry: any TelemetryQuerying, streams: LogStreams) {
        router.get("/api/v1/traces") { request, _ -> Response in
            try await answer {
                try AdminAPI.json(try await telemetry.traces(TelemetryQueryParameters.traceFilter(pairs(request), nowNanos: now())))
            }
        }

        router.get("/api/v1/traces/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard let traceID = validTraceID(id) else { return badTraceID(id) }
            guard let detail = try await telemetry.trace(traceID) else {
                return APIError.response(.notFound, "no trace `\(id)` in this stack's store")
            }
            return try AdminAPI.json(detail)
        }

        router.get("/api/v1/compare") { request, _ -> Response in
            try await answer {
                let query = pairs(request)
                try requireOnly(["a", "b"], in: query)
                var details: [TraceDetail] = []
                for side in ["a", "b"] {
                    guard let id = query.last(where: { $0.0 == side })?.1 else {
                        throw TelemetryQueryParameters.Invalid("`\(side)` is required: /api/v1/compare?a=TRACE&b=TRACE")
                    }
                    guard let traceID = validTraceID(id) else { return badTraceID(id) }
                    guard let detail = try await telemetry.trace(traceID) else {
                        return APIError.response(.notFound, "no trace `\(id)` (`\(side)`) in this stack's store")
                    }
                    details.append(detail)
                }
                return try AdminAPI.json(TraceComparison(details[0], details[1]))
            }
        }

        router.get("/api/v1/graph") { request, _ -> Response in
            try await answer {
                let query = pairs(request)
                try requireOnly(["since"], in: query)
                let since = try window(query, key: "since", default: .seconds(900))
                return try AdminAPI.json(try await telemetry.graph(sinceNanos: since))
            }
        }

        router.get("/api/v1/logs") { request, _ -> Response in
            try await answer {
                let query = pairs(request)
                let filter = try TelemetryQueryParameters.logFilter(query, nowNanos: now(), extra: ["wait"])
                var lines = try await telemetry.logs(filter)
                // `wait` (long poll): with `after`, hold the request until a line comes or the time is up.
                if let waitText = query.last(where: { $0.0 == "wait" })?.1 {
                    guard let wait = DurationParser.parse(waitText) else {
                        throw TelemetryQueryParameters.Invalid("`wait` must be a duration such as 10s, not `\(waitText)`")
                    }
                    guard let after = filter.afterID else {
                        throw TelemetryQueryParameters.Invalid("`wait` needs `after` (the last log id seen)")
                    }
                    // In one-second slices: a held request must not hold up devmesh's shutdown.
                    let deadline = ContinuousClock.now + min(wait, maxWait)
                    while lines.isEmpty, ContinuousClock.now < deadline, !Task.isShuttingDownGracefully {
                        await telemetry.waitForLogs(after: after, timeout: min(.seconds(1), deadline - ContinuousClock.now))
                        lines = try await telemetry.logs(filter)
                    }
                }
                return try AdminAPI.json(lines)
            }
        }

        router.get("/api/v1/logs/stream") { request, _ -> Response in
            try await answer {
                var filter = try TelemetryQueryParameters.logFilter(pairs(request), nowNanos: now())
                // A reconnecting EventSource says where it stopped.
                if let last = request.headers[HTTPField.Name("last-event-id")!], let id = Int64(last), id >= 0 {
                    filter.afterID = id
                }
                return try await streams.open(filter, telemetry: telemetry)
            }
        }
    }

    /// Runs a handler, turning invalid parameters into 400 with the message.
    static func answer(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let invalid as TelemetryQueryParameters.Invalid {
            return APIError.response(.badRequest, invalid.description)
        }
    }

    static func requireOnly(_ known: Set<String>, in query: [(String, String)]) throws {
        for (key, _) in query where !known.contains(key) {
            throw TelemetryQueryParameters.Invalid("unknown parameter `\(key.prefix(64))`; this endpoint takes \(known.sorted().joined(separator: ", "))")
        }
    }

    /// A start of a window: `since` back from now (default `fallback`), at most 7 days.
    static func window(_ query: [(String, String)], key: String, default fallback: Duration) throws -> UInt64 {
        var back = fallback
        if let text = query.last(where: { $0.0 == key })?.1 {
            guard let d = DurationParser.parse(text), d >= .seconds(1), d <= .seconds(7 * 86_400) else {
                throw TelemetryQueryParameters.Invalid("`\(key)` must be a duration from 1s to 7d, such as 1m or 15m, not `\(text.prefix(40))`")
            }
            back = d
        }
        let nanos = TelemetryQueryParameters.nanos(back)
        let current = now()
        return current > nanos ? current - nanos : 0
    }

    static func validTraceID(_ id: String) -> String? {
        TelemetryQueryParameters.isHex(id, length: 8...32) ? id.lowercased() : nil
    }

    static func badTraceID(_ id: String) -> Response {
        APIError.response(.badRequest, "a trace id is 32 hex digits (a unique prefix of 8 or more also works), not `\(id.prefix(64))`")
    }

    /// The query as HTML forms and `URLSearchParams` write it: `+` is a space (Hummingbird's
    /// parser keeps it a plus), `%XX` a byte. A malformed escape is kept as written.
    static func pairs(_ request: Request) -> [(String, String)] {
        guard let query = request.uri.query, !query.isEmpty else { return [] }
        func decode(_ part: Substring) -> String {
            let spaced = part.replacingOccurrences(of: "+", with: " ")
            return spaced.removingPercentEncoding ?? spaced
        }
        return query.split(separator: "&", omittingEmptySubsequences: true).prefix(256).map { item in
            guard let eq = item.firstIndex(of: "=") else { return (decode(item), "") }
            return (decode(item[..<eq]), decode(item[item.index(after: eq)...]))
        }
    }

    static func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }
}
