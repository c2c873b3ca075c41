import DevMeshCore
import NIOConcurrencyHelpers

/// Counts what goes through the gateway, per route and per caller (an API key's name, a Basic
/// user, a token's subject): requests, errors, refusals, cache hits and a latency histogram.
/// Shared by every event loop: one short lock per request, no allocation once a caller is known.
/// Callers per route are capped; past the cap, new ones are counted together as `(others)`.
public final class GatewayUsage: Sendable {
    public static let maxCallersPerRoute = 1000

    /// Latency buckets 2^(1/4) apart from 50 µs: 96 of them reach past 13 minutes.
    struct Histogram {
        static let base = 50_000.0
        static let step = 1.189207115002721  // 2^(1/4)
        var buckets = [UInt32](repeating: 0, count: 96)
        var maxNanos: UInt64 = 0
        var count: UInt64 = 0

        mutating func add(_ nanos: UInt64) {
            count += 1
            maxNanos = max(maxNanos, nanos)
            var i = 0
            var edge = Self.base
            while i < buckets.count - 1, Double(nanos) > edge {
                edge *= Self.step
                i += 1
            }
            buckets[i] &+= 1
        }

        func percentile(_ p: Double) -> Double {
            let rank = UInt64((Double(count) * p).rounded(.up))
            var seen: UInt64 = 0
            var edge = Self.base
            for n in buckets {
                seen += UInt64(n)
                if seen >= max(rank, 1) { return min(edge, Double(maxNanos)) / 1e6 }
                edge *= Self.step
            }
            return Double(maxNanos) / 1e6
        }

        var latency: GatewayUsageReport.Latency? {
            count == 0 ? nil : .init(p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99), max: Double(maxNanos) / 1e6)
        }
    }

    struct Tally {
        var counts = GatewayUsageReport.Counts()
        var histogram = Histogram()

        mutating func add(status: Int, error: String?, nanos: UInt64, cacheHit: Bool) {
            counts.requests += 1
            if status == 429, error == "rate-limited" {
                counts.rateLimited += 1
            } else if status == 401 {
                counts.unauthenticated += 1
            } else if status >= 500 || (error != nil && status >= 500) {
                counts.errors += 1
            } else if status >= 400 {
                counts.clientErrors += 1
            }
            if cacheHit { counts.cacheHits += 1 }
            histogram.add(nanos)
        }

        var report: GatewayUsageReport.Counts {
            var c = counts
            c.latency = histogram.latency
            return c
        }
    }

    struct CallerKey: Hashable {
        var kind: String
        var name: String
    }

    struct RouteTally {
        var tally = Tally()
        var callers: [CallerKey: Tally] = [:]
    }

    struct State {
        var routes: [Int: RouteTally] = [:]
        var unrouted = Tally()
        var automatic = Tally()
    }

    public enum Target: Sendable {
        case route(Int)
        case automaticHost
        case unrouted
    }

    public let since: Double
    private let state = NIOLockedValueBox(State())

    public init(since: Double) {
        self.since = since
    }

    /// `caller`: kind (`key`, `user`, `subject`) and name; nil counts as `anonymous`.
    public func record(_ target: Target, caller: (kind: String, name: String)?, status: Int, error: String?, nanos: UInt64, cacheHit: Bool) {
        state.withLockedValue { s in
            switch target {
            case .unrouted: s.unrouted.add(status: status, error: error, nanos: nanos, cacheHit: cacheHit)
            case .automaticHost: s.automatic.add(status: status, error: error, nanos: nanos, cacheHit: cacheHit)
            case .route(let index):
                var r = s.routes[index] ?? RouteTally()
                r.tally.add(status: status, error: error, nanos: nanos, cacheHit: cacheHit)
                var key = CallerKey(kind: caller?.kind ?? "anonymous", name: caller?.name ?? "")
                if r.callers[key] == nil, r.callers.count >= Self.maxCallersPerRoute { key = CallerKey(kind: "others", name: "(others)") }
                r.callers[key, default: Tally()].add(status: status, error: error, nanos: nanos, cacheHit: cacheHit)
                s.routes[index] = r
            }
        }
    }

    /// The report; `routes` describes each route (what it reads as, its service, its `auth`),
    /// `limits` are the routes' rate limits.
    public func report(routes: [(route: String, service: String, auth: String?)], limits: [Int: SharedRateLimit]) -> GatewayUsageReport {
        let s = state.withLockedValue { $0 }
        var out: [GatewayUsageReport.Route] = []
        for (index, described) in routes.enumerated() {
            let r = s.routes[index] ?? RouteTally()
            let limit = limits[index]
            let allowances = limit?.snapshot(limit: 50) ?? []
            let callers = r.callers.sorted { $0.value.counts.requests > $1.value.counts.requests }.map { key, tally in
                var remaining: Int?
                if let limit {
                    let limitKey = limit.key(forCaller: key.kind, name: key.name)
                    remaining = limitKey.map { k in allowances.first { $0.key == k }?.remaining ?? limit.requests }
                }
                return GatewayUsageReport.Caller(kind: key.kind, name: key.name, counts: tally.report, remaining: remaining)
            }
            out.append(GatewayUsageReport.Route(
                index: index, route: described.route, service: described.service, auth: described.auth, counts: r.tally.report,
                callers: callers,
                rateLimit: limit.map { .init(requests: $0.requests, per: $0.periodText, by: $0.by.rawValue, active: allowances) }))
        }
        return GatewayUsageReport(since: since, routes: out, unrouted: s.unrouted.report, automaticHosts: s.automatic.report)
    }
}
