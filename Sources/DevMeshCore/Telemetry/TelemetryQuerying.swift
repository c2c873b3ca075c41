/// What the admin API can ask the running stack's telemetry store (the app implements it over
/// SQLite; the API stays free of storage).
public protocol TelemetryQuerying: Sendable {
    func traces(_ filter: TraceFilter) async throws -> [TraceSummary]
    func trace(_ id: String) async throws -> TraceDetail?
    func logs(_ filter: LogFilter) async throws -> [TelemetryLog]
    /// Returns once a log line newer than `id` is stored, or after `timeout`.
    func waitForLogs(after id: Int64, timeout: Duration) async
}
