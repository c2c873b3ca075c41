import DevMeshCore
import NIOConcurrencyHelpers
import NIOCore

/// One gateway route's `rate_limit`, shared by every connection on every event loop (a limit
/// per loop would let a client through twice as often on 2 loops). A lock per request on limited
/// routes only; the state is one number per key.
public final class SharedRateLimit: Sendable {
    public let by: RateLimitConfig.Key
    public let periodText: String
    private let state: NIOLockedValueBox<GCRA>

    public let requests: Int

    public init(_ config: RateLimitConfig) {
        by = config.by
        requests = config.requests
        periodText = DurationParser.format(config.per)
        state = NIOLockedValueBox(GCRA(requests: config.requests, period: config.per))
    }

    public func admit(_ key: String) -> GCRA.Decision {
        let now = NIODeadline.now().uptimeNanoseconds
        return state.withLockedValue { $0.admit(key, now: now) }
    }

    /// Whether `key` is over the limit now (nothing is counted).
    public func isExhausted(_ key: String) -> Bool {
        let now = NIODeadline.now().uptimeNanoseconds
        return state.withLockedValue { $0.wouldRefuse(key, now: now) }
    }

    /// Keys in use now (allowance not whole), the most used first.
    public func snapshot(limit: Int) -> [GatewayUsageReport.Allowance] {
        let now = NIODeadline.now().uptimeNanoseconds
        return state.withLockedValue { $0.inUse(now: now, limit: limit) }.map {
            GatewayUsageReport.Allowance(key: $0.key, remaining: $0.remaining, resetSeconds: $0.resetSeconds)
        }
    }

    /// The key a caller of the route's usage counts under, when this limit counts by caller.
    func key(forCaller kind: String, name: String) -> String? {
        switch (by, kind) {
        case (.key, "key"), (.key, "user"): "key " + name
        case (.jwtSub, "subject"): name
        default: nil
        }
    }
}
