import Foundation
import NIOCore

/// How a listener spreads requests over endpoints.
public enum BalancerKind: String, Sendable, CaseIterable {
    /// Each endpoint in turn.
    case roundRobin = "round-robin"
    /// Power of two choices on peak-EWMA latency × (in-flight + 1): Linkerd's default.
    case p2cEWMA = "p2c-ewma"
}

/// Outlier ejection: endpoints that keep failing are taken out for a while.
public struct EjectionPolicy: Sendable, Equatable {
    /// Consecutive connect failures or 5xx answers that eject an endpoint.
    public var consecutiveFailures = 5
    /// First ejection time; doubles with each ejection of the same endpoint.
    public var baseEjection: Duration = .seconds(5)
    public var maxEjection: Duration = .seconds(60)

    public init() {}
}

/// Balancing state of one listener on one event loop (no locks: only its loop touches it).
final class LoadBalancer {
    struct Stats {
        var inFlight = 0
        /// Peak-EWMA of latency in nanoseconds.
        var ewma: Double = 0
        var lastObserved: NIODeadline = .uptimeNanoseconds(0)
    }

    let kind: BalancerKind
    let outliers: OutlierDetector
    /// Decay time of the EWMA (Linkerd uses 10s).
    let decay: Double = 10e9
    private(set) var stats: [Endpoint: Stats] = [:]
    private var next = 0
    private var rng = SystemRandomNumberGenerator()

    init(kind: BalancerKind, outliers: OutlierDetector) {
        self.kind = kind
        self.outliers = outliers
    }

    /// Picks an endpoint, skipping ejected ones (unless all are: then all are used — better a
    /// likely failure than a certain 503). `excluding` avoids the endpoint a retry just failed on.
    func pick(from endpoints: [Endpoint], excluding: Endpoint? = nil, now: NIODeadline) -> Endpoint? {
        guard !endpoints.isEmpty else { return nil }
        var candidates = outliers.admitted(endpoints, now: now)
        if candidates.isEmpty { candidates = endpoints }
        if let excluding, candidates.count > 1 { candidates.removeAll { $0 == excluding } }
        if candidates.count == 1 { return candidates[0] }
        switch kind {
        case .roundRobin:
            next = (next + 1) % candidates.count
            return candidates[next]
        case .p2cEWMA:
            let a = Int.random(in: 0..<candidates.count, using: &rng)
            var b = Int.random(in: 0..<(candidates.count - 1), using: &rng)
            if b >= a { b += 1 }
            return cost(candidates[a], now) <= cost(candidates[b], now) ? candidates[a] : candidates[b]
        }
    }

    private func cost(_ e: Endpoint, _ now: NIODeadline) -> Double {
        guard let s = stats[e] else { return 0 }
        let elapsed = Double(now.uptimeNanoseconds &- s.lastObserved.uptimeNanoseconds)
        let ewma = s.ewma * exp(-max(0, elapsed) / decay)
        return (ewma + 1) * Double(s.inFlight + 1)
    }

    func started(_ e: Endpoint) {
        stats[e, default: Stats()].inFlight += 1
    }

    /// Records the outcome of a request; `failed` means a connect failure, reset or 5xx.
    func finished(_ e: Endpoint, latencyNanos: UInt64, failed: Bool, now: NIODeadline) {
        var s = stats[e, default: Stats()]
        s.inFlight = max(0, s.inFlight - 1)
        let rtt = Double(latencyNanos)
        if rtt > s.ewma {
            s.ewma = rtt  // peak: react to slowness at once
        } else {
            let elapsed = Double(now.uptimeNanoseconds &- s.lastObserved.uptimeNanoseconds)
            let w = exp(-max(0, elapsed) / decay)
            s.ewma = s.ewma * w + rtt * (1 - w)
        }
        s.lastObserved = now
        outliers.record(e, failed: failed, now: now)
        stats[e] = s
    }
}

/// Retry budget (Linkerd/Finagle style): retries may add `ratio` of recent requests, plus a floor.
struct RetryBudget {
    let policy: RetryPolicy
    private var windowStart: NIODeadline = .uptimeNanoseconds(0)
    private var requests = 0
    private var retries = 0

    init(policy: RetryPolicy) {
        self.policy = policy
    }

    mutating func recordRequest(now: NIODeadline) {
        roll(now)
        requests += 1
    }

    /// Takes one retry from the budget if there is one.
    mutating func tryRetry(now: NIODeadline) -> Bool {
        roll(now)
        let allowed = max(Double(policy.minRetriesPerSecond) * 10, Double(requests) * policy.budgetRatio)
        guard Double(retries) < allowed else { return false }
        retries += 1
        return true
    }

    /// A 10-second window.
    private mutating func roll(_ now: NIODeadline) {
        if now.uptimeNanoseconds &- windowStart.uptimeNanoseconds > 10_000_000_000 {
            windowStart = now
            requests = 0
            retries = 0
        }
    }
}
