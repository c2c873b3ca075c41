/// A rate limit as the generic cell rate algorithm: `requests` per `period`, with a burst of the
/// whole allowance. One number per key (its theoretical arrival time), so millions of keys cost
/// little, and the answer carries what the `RateLimit-*` fields need.
public struct GCRA: Sendable {
    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        public var limit: Int
        /// Requests still allowed right now.
        public var remaining: Int
        /// Seconds until the allowance is whole again (`RateLimit-Reset`).
        public var resetSeconds: Int
        /// Seconds to wait before a retry is allowed (`Retry-After`), when refused.
        public var retryAfterSeconds: Int
    }

    public let requests: Int
    public let periodNanos: UInt64
    /// The most keys kept; past it, keys whose allowance is whole again are forgotten first.
    public let maxKeys: Int
    private var arrival: [String: UInt64] = [:]

    public init(requests: Int, period: Duration, maxKeys: Int = 100_000) {
        self.requests = max(1, requests)
        let seconds = UInt64(max(0, period.components.seconds)) * 1_000_000_000
        periodNanos = max(1, seconds + UInt64(max(0, period.components.attoseconds / 1_000_000_000)))
        self.maxKeys = maxKeys
    }

    var interval: UInt64 { max(1, periodNanos / UInt64(requests)) }

    /// Counts one request of `key` at `now` (monotonic nanoseconds).
    public mutating func admit(_ key: String, now: UInt64) -> Decision {
        let tolerance = periodNanos - interval
        let tat = max(arrival[key] ?? now, now)
        func seconds(_ nanos: UInt64) -> Int { Int((nanos + 999_999_999) / 1_000_000_000) }
        if tat - now > tolerance {
            // Refused: the next request fits once `tat - tolerance` has passed.
            let wait = tat - tolerance - now
            return Decision(allowed: false, limit: requests, remaining: 0, resetSeconds: seconds(tat - now), retryAfterSeconds: max(1, seconds(wait)))
        }
        let next = tat + interval
        if arrival.count >= maxKeys, arrival[key] == nil { forget(now: now) }
        arrival[key] = next
        let used = (next - now + interval - 1) / interval
        return Decision(allowed: true, limit: requests, remaining: max(0, requests - Int(used)), resetSeconds: seconds(next - now), retryAfterSeconds: 0)
    }

    /// Whether a request of `key` at `now` would be refused (nothing is counted).
    public func wouldRefuse(_ key: String, now: UInt64) -> Bool {
        guard let tat = arrival[key], tat > now else { return false }
        return tat - now > periodNanos - interval
    }

    /// Forgets keys whose allowance is whole again; if none are, the oldest half.
    mutating func forget(now: UInt64) {
        arrival = arrival.filter { $0.value > now }
        // Not just under the bound: else every new key would walk the whole table again.
        if arrival.count >= maxKeys * 9 / 10 {
            let keep = arrival.sorted { $0.value > $1.value }.prefix(maxKeys / 2)
            arrival = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }

    public var keyCount: Int { arrival.count }

    /// Keys whose allowance is not whole at `now`, the least left first, with what they have left.
    public func inUse(now: UInt64, limit: Int) -> [(key: String, remaining: Int, resetSeconds: Int)] {
        arrival.filter { $0.value > now }.sorted { $0.value > $1.value }.prefix(limit).map { key, tat in
            let used = Int((tat - now + interval - 1) / interval)
            return (key, max(0, requests - used), Int((tat - now + 999_999_999) / 1_000_000_000))
        }
    }
}
