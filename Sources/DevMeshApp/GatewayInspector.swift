import DevMeshAPI
import DevMeshCore
import DevMeshProxy
import NIOCore

/// The running gateway as the admin API sees it.
struct GatewayInspector: GatewayInspecting {
    let config: GatewayConfig
    let cache: ResponseCache?
    let usage: GatewayUsage?
    let rateLimits: [Int: SharedRateLimit]

    init(config: GatewayConfig, mesh: SidecarMesh) {
        self.config = config
        cache = mesh.cache
        usage = mesh.usage
        rateLimits = mesh.rateLimits
    }

    func usageReport() -> GatewayUsageReport? {
        guard let usage else { return nil }
        return usage.report(routes: config.routes.map { route in
            ((route.host ?? "") + (route.path ?? "/") + " → " + route.to, route.to, route.auth?.kind)
        }, limits: rateLimits)
    }

    func cacheReport(limit: Int) -> GatewayCacheReport? {
        guard let cache else { return nil }
        let routes = config.routes.filter(\.cache).map { route in
            (route.host ?? "") + (route.path ?? "/") + " → " + route.to
        }
        return GatewayCacheReport(stats: cache.stats, entries: cache.listing(limit: limit, now: NIODeadline.now().uptimeNanoseconds),
                                  routes: routes)
    }

    func purgeCache(service: String?, prefix: String?) -> Int {
        cache?.purge(service: service, prefix: prefix) ?? 0
    }
}
