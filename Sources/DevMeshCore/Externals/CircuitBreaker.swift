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

    /// Bumped at every change of state: an outcome carries the generation its call was admitted
    /// in, and one from an older generation (a call that was already in flight when the breaker
    /// opened or closed) changes nothing.
    public private(set) var generation = 0

    public enum Admission: Sendable, Equatable {
        case allowed(generation: Int)
        /// This call is the half-open probe.
        case probe(generation: Int)
        /// Refused: the breaker is open; retry after this many seconds.
        case refused(retryAfter: Double)
    }

    /// Whether a call may go out now.
    public mutating func admit(now: Double) -> Admission {
        switch state {
        case .closed:
            return .allowed(generation: generation)
        case .open:
            guard now >= openUntil else { return .refused(retryAfter: openUntil - now) }
            state = .halfOpen
            generation += 1
            probing = true
            return .probe(generation: generation)
        case .halfOpen:
            if probing { return .refused(retryAfter: 1) }
            probing = true
            return .probe(generation: generation)
        }
    }

    /// The outcome of a call admitted in `generation`.
    public mutating func record(success: Bool, now: Double, generation admitted: Int) {
        guard admitted == generation else { return }
        if success {
            if state != .closed { generation += 1 }
            state = .closed
            consecutiveFailures = 0
            probing = false
            return
        }
        consecutiveFailures += 1
        if state == .halfOpen || consecutiveFailures >= failures {
            state = .open
            generation += 1
            openUntil = now + openFor
            probing = false
            openings += 1
        }
    }

    /// A probe that ended without a verdict (cancelled): the next call may probe instead.
    public mutating func abandonProbe(generation admitted: Int) {
        if admitted == generation, state == .halfOpen { probing = false }
    }
}
