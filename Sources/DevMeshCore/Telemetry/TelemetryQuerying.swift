/// What the admin API can ask the running stack's telemetry store (the app implements it over
/// SQLite; the API stays free of storage).
public protocol TelemetryQuerying: Sendable {
    func traces(_ filter: TraceFilter) async throws -> [TraceSummary]
    func trace(_ id: String) async throws -> TraceDetail?
    func logs(_ filter: LogFilter) async throws -> [TelemetryLog]
    /// The newest log line's id (0 when none): where a live tail starts following.
    func lastLogID() async throws -> Int64
    /// Returns once a log line newer than `id` is stored, or after `timeout`.
    func waitForLogs(after id: Int64, timeout: Duration) async
    /// Each service's requests since then (Unix nanoseconds), by service name.
    func traffic(sinceNanos: UInt64) async throws -> [String: TrafficMetrics]
    /// Calls between services since then.
    func graph(sinceNanos: UInt64) async throws -> ServiceGraph
    /// Recent authorization decisions recorded on spans, newest first.
    func policyDecisions(_ filter: PolicyDecisionFilter) async throws -> [PolicyDecisionRecord]
}

extension TelemetryQuerying {
    public func policyDecisions(_ filter: PolicyDecisionFilter) async throws -> [PolicyDecisionRecord] { [] }
}
