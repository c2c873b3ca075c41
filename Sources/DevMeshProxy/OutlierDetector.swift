import NIOConcurrencyHelpers
import NIOCore

/// Passive outlier ejection, shared by every event loop of a listener (so "5 consecutive
/// failures" means five, not five per loop): endpoints that keep failing (connect failures,
/// resets, 5xx) are taken out for a while, longer each time, then re-admitted.
public final class OutlierDetector: Sendable {
    struct EndpointState {
        var consecutiveFailures = 0
        var ejectedUntil: NIODeadline?
        var ejections = 0
    }

    public let policy: EjectionPolicy
    private let state = NIOLockedValueBox<[Endpoint: EndpointState]>([:])

    public init(policy: EjectionPolicy = EjectionPolicy()) {
        self.policy = policy
    }

    func isEjected(_ e: Endpoint, now: NIODeadline) -> Bool {
        state.withLockedValue { s in
            guard let until = s[e]?.ejectedUntil else { return false }
            return until > now
        }
    }

    /// The endpoints not ejected now.
    func admitted(_ endpoints: [Endpoint], now: NIODeadline) -> [Endpoint] {
        state.withLockedValue { s in
            endpoints.filter { e in
                guard let until = s[e]?.ejectedUntil else { return true }
                return until <= now
            }
        }
    }

    func record(_ e: Endpoint, failed: Bool, now: NIODeadline) {
        state.withLockedValue { all in
            var s = all[e, default: EndpointState()]
            if failed {
                s.consecutiveFailures += 1
                if s.consecutiveFailures >= policy.consecutiveFailures {
                    s.ejections += 1
                    var d = policy.baseEjection
                    for _ in 1..<min(s.ejections, 10) { d = min(d * 2, policy.maxEjection) }
                    s.ejectedUntil = now + TimeAmount.nanoseconds(Int64(d.components.seconds) * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
                    s.consecutiveFailures = 0
                }
            } else {
                s.consecutiveFailures = 0
                if let until = s.ejectedUntil, until <= now { s.ejectedUntil = nil }
            }
            all[e] = s
        }
    }
}
