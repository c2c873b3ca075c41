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

    public init(_ config: RateLimitConfig) {
        by = config.by
        periodText = DurationParser.format(config.per)
        state = NIOLockedValueBox(GCRA(requests: config.requests, period: config.per))
    }

    public func admit(_ key: String) -> GCRA.Decision {
        let now = NIODeadline.now().uptimeNanoseconds
        return state.withLockedValue { $0.admit(key, now: now) }
    }
}
