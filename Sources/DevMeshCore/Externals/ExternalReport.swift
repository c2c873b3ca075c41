/// One external's ambassador as `GET /api/v1/externals`, `devmesh external` and the UI show it.
public struct ExternalReport: Sendable, Equatable, Codable {
    public var name: String
    /// The policy workload and span service (`external-<name>`).
    public var workload: String
    public var url: String
    public var mode: ExternalConfig.Mode
    /// The mode devmesh.yaml sets (a switched mode lasts until the stack stops).
    public var configuredMode: ExternalConfig.Mode
    /// Services with it in `upstreams`.
    public var callers: [String]
    public var breaker: CircuitBreaker.State
    public var consecutiveFailures: Int
    public var breakerOpenings: Int
    public var calls: Int
    public var live: Int
    public var replayed: Int
    public var recorded: Int
    /// `replay` calls no recording answered (502).
    public var misses: Int
    /// Calls that failed (5xx from the external, errors, an open breaker).
    public var failures: Int

    public init(name: String, workload: String, url: String, mode: ExternalConfig.Mode, configuredMode: ExternalConfig.Mode, callers: [String],
                breaker: CircuitBreaker.State, consecutiveFailures: Int, breakerOpenings: Int, calls: Int, live: Int, replayed: Int,
                recorded: Int, misses: Int, failures: Int) {
        self.name = name
        self.workload = workload
        self.url = url
        self.mode = mode
        self.configuredMode = configuredMode
        self.callers = callers
        self.breaker = breaker
        self.consecutiveFailures = consecutiveFailures
        self.breakerOpenings = breakerOpenings
        self.calls = calls
        self.live = live
        self.replayed = replayed
        self.recorded = recorded
        self.misses = misses
        self.failures = failures
    }
}
