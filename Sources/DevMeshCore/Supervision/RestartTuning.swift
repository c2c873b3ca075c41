/// Timings of restarts and stops. Defaults are what `devmesh up` uses; tests shorten them.
public struct RestartTuning: Sendable, Equatable {
    /// Delay before the first restart after a crash; doubles with each quick crash.
    public var initialBackoff: Duration = .milliseconds(500)
    /// The longest delay between restarts.
    public var maxBackoff: Duration = .seconds(30)
    /// A run at least this long counts as stable and resets the backoff.
    public var stableAfter: Duration = .seconds(10)
    /// This many quick crashes within `crashLoopWindow` stop the restarts.
    public var crashLoopCount: Int = 5
    public var crashLoopWindow: Duration = .seconds(60)
    /// Time between SIGTERM and SIGKILL when stopping.
    public var stopGrace: Duration = .seconds(5)
    /// Consecutive failed probes before a ready replica is reported unhealthy.
    public var unhealthyAfter: Int = 3

    public init() {}

    /// The delay before restart number `attempt` (0-based) of a run of quick crashes.
    public func backoff(attempt: Int) -> Duration {
        var d = initialBackoff
        for _ in 0..<min(attempt, 30) {
            d = d * 2
            if d >= maxBackoff { return maxBackoff }
        }
        return min(d, maxBackoff)
    }
}
