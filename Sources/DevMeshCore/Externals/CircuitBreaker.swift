/// A circuit breaker as a value (Hystrix/resilience4j's count-based one): closed while calls
/// succeed; `failures` consecutive failures open it for `openFor`, during which calls are refused
/// without being tried; then one probe goes through (half-open) — its success closes the
/// breaker, its failure opens it again. Time is passed in (seconds, monotonic), so the machine is
/// pure and testable; the ambassador keeps one behind a lock.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: String, Sendable, Equatable, Codable {
        case closed
        case open
        case halfOpen = "half-open"
    }

    public let failures: Int
    public let openFor: Double
    public private(set) var state: State = .closed
    public private(set) var consecutiveFailures = 0
    /// When an open breaker lets the next probe through.
    public private(set) var openUntil: Double = 0
    /// A half-open probe is in flight: other calls wait for its verdict (refused).
    private var probing = false
    /// How many times it opened since the stack started.
    public private(set) var openings = 0

    public init(failures: Int, openFor: Duration) {
        self.failures = max(1, failures)
        let c = openFor.components
        self.openFor = Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    public enum Admission: Sendable, Equatable {
        case allowed
        /// This call is the half-open probe.
        case probe
        /// Refused: the breaker is open; retry after this many seconds.
        case refused(retryAfter: Double)
    }

    /// Whether a call may go out now.
    public mutating func admit(now: Double) -> Admission {
        switch state {
        case .closed:
            return .allowed
        case .open:
            guard now >= openUntil else { return .refused(retryAfter: openUntil - now) }
            state = .halfOpen
            probing = true
            return .probe
        case .halfOpen:
            if probing { return .refused(retryAfter: 1) }
            probing = true
            return .probe
        }
    }

    /// The outcome of an admitted call.
    public mutating func record(success: Bool, now: Double) {
        if success {
            state = .closed
            consecutiveFailures = 0
            probing = false
            return
        }
        consecutiveFailures += 1
        if state == .halfOpen || consecutiveFailures >= failures {
            state = .open
            openUntil = now + openFor
            probing = false
            openings += 1
        }
    }

    /// A call admitted as the probe that ended without a verdict (cancelled): let another probe try.
    public mutating func abandonProbe() {
        probing = false
    }
}
