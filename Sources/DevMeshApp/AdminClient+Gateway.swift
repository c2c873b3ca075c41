import DevMeshCore
import Foundation

extension AdminClient {
    /// The gateway's response cache; nil when no route caches.
    public func cacheReport(limit: Int = 200) async throws -> GatewayCacheReport? {
        try await get("/api/v1/gateway/cache", query: [("limit", String(limit))], as: GatewayCacheReport.self)
    }

    /// Drops stored answers; returns how many. Nil when no route caches.
    public func purgeCache(service: String?, prefix: String?) async throws -> Int? {
        var components = URLComponents()
        components.queryItems = [service.map { URLQueryItem(name: "service", value: $0) }, prefix.map { URLQueryItem(name: "prefix", value: $0) }]
            .compactMap { $0 }
        let query = components.queryItems!.isEmpty ? "" : "?" + (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        struct Purged: Decodable { var purged: Int }
        do {
            let data = try await send(.DELETE, "/api/v1/gateway/cache" + query)
            return try JSONDecoder().decode(Purged.self, from: data).purged
        } catch let failure as Failure where failure.notFound {
            return nil
        }
    }
}
