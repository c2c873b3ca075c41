import DevMeshCore
import Foundation
import Hummingbird
import NIOCore

/// What the API needs from the running gateway.
public protocol GatewayInspecting: Sendable {
    /// Nil without a gateway.
    func usageReport() -> GatewayUsageReport?
    /// Nil when no route has `cache: true`.
    func cacheReport(limit: Int) -> GatewayCacheReport?
    /// Drops stored answers of `service` (nil: every service) whose path starts with `prefix`
    /// (nil: every path); returns how many.
    func purgeCache(service: String?, prefix: String?) -> Int
}

/// `/api/v1/gateway/usage`: requests per route and caller; `/api/v1/gateway/cache`: the response
/// cache's counters and entries (`DELETE` purges).
enum GatewayRoutes {
    struct Purged: Codable {
        var purged: Int
    }

    static func add(to router: Router<BasicRequestContext>, gateway: (any GatewayInspecting)?) {
        router.get("/api/v1/gateway/usage") { request, _ -> Response in
            try await TelemetryRoutes.answer {
                try TelemetryRoutes.requireOnly([], in: TelemetryRoutes.pairs(request))
                guard let report = gateway?.usageReport() else {
                    return APIError.response(.notFound, "this stack has no gateway (add `gateway:` to devmesh.yaml)")
                }
                return try AdminAPI.json(report)
            }
        }

        router.get("/api/v1/gateway/cache") { request, _ -> Response in
            try await TelemetryRoutes.answer {
                let query = TelemetryRoutes.pairs(request)
                try TelemetryRoutes.requireOnly(["limit"], in: query)
                var limit = 200
                if let value = query.first(where: { $0.0 == "limit" })?.1 {
                    guard let n = Int(value), (1...10_000).contains(n) else {
                        throw TelemetryQueryParameters.Invalid("`limit` is a number from 1 to 10000, not `\(value.prefix(40))`")
                    }
                    limit = n
                }
                guard let report = gateway?.cacheReport(limit: limit) else { return noCache() }
                return try AdminAPI.json(report)
            }
        }

        router.delete("/api/v1/gateway/cache") { request, _ -> Response in
            try await TelemetryRoutes.answer {
                let query = TelemetryRoutes.pairs(request)
                try TelemetryRoutes.requireOnly(["service", "prefix"], in: query)
                let service = query.first { $0.0 == "service" }?.1
                let prefix = query.first { $0.0 == "prefix" }?.1
                if let prefix, !prefix.hasPrefix("/") {
                    throw TelemetryQueryParameters.Invalid("`prefix` is a path prefix starting with `/`, not `\(prefix.prefix(40))`")
                }
                guard let gateway, gateway.cacheReport(limit: 1) != nil else { return noCache() }
                return try AdminAPI.json(Purged(purged: gateway.purgeCache(service: service, prefix: prefix)))
            }
        }
    }

    static func noCache() -> Response {
        APIError.response(.notFound, "no gateway route caches: add `cache: true` to a route in devmesh.yaml (docs/gateway.md#caching)")
    }
}
