import DevMeshCore
import Foundation
import Hummingbird

/// `/api/v1/traces`, `/api/v1/traces/{id}`, `/api/v1/logs`: the store as JSON (the CLI's
/// `traces`, `trace` and `logs`, and the web UI). Bad parameters get 400 with what to fix.
enum TelemetryRoutes {
    /// How long `/api/v1/logs?wait=…` may hold a request (long polling for `logs -f`).
    static let maxWait: Duration = .seconds(30)

    static func add(to router: Router<BasicRequestContext>, telemetry: any TelemetryQuerying) {
        router.get("/api/v1/traces") { request, _ -> Response in
            do {
                let filter = try TelemetryQueryParameters.traceFilter(pairs(request), nowNanos: now())
                return try AdminAPI.json(try await telemetry.traces(filter))
            } catch let invalid as TelemetryQueryParameters.Invalid {
                return APIError.response(.badRequest, invalid.description)
            }
        }

        router.get("/api/v1/traces/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard id.count >= 8, id.count <= 32, id.allSatisfy(\.isHexDigit) else {
                return APIError.response(.badRequest, "a trace id is 32 hex digits (a unique prefix of 8 or more also works), not `\(id.prefix(64))`")
            }
            guard let detail = try await telemetry.trace(id) else {
                return APIError.response(.notFound, "no trace `\(id)` in this stack's store")
            }
            return try AdminAPI.json(detail)
        }

        router.get("/api/v1/logs") { request, _ -> Response in
            do {
                let query = pairs(request)
                let filter = try TelemetryQueryParameters.logFilter(query, nowNanos: now())
                var lines = try await telemetry.logs(filter)
                // `wait` (long poll): with `after`, hold the request until a line comes or the time is up.
                if lines.isEmpty, let after = filter.afterID, let waitText = query.last(where: { $0.0 == "wait" })?.1 {
                    guard let wait = DurationParser.parse(waitText) else {
                        return APIError.response(.badRequest, "`wait` must be a duration such as 10s, not `\(waitText)`")
                    }
                    await telemetry.waitForLogs(after: after, timeout: min(wait, maxWait))
                    lines = try await telemetry.logs(filter)
                }
                return try AdminAPI.json(lines)
            } catch let invalid as TelemetryQueryParameters.Invalid {
                return APIError.response(.badRequest, invalid.description)
            }
        }
    }

    static func pairs(_ request: Request) -> [(String, String)] {
        request.uri.queryParameters.map { (String($0.key), String($0.value)) }
    }

    static func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }
}
