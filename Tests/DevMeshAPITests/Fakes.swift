import DevMeshCore
import Foundation
import NIOConcurrencyHelpers

/// A stack of two services that records the commands it is given.
final class FakeStack: StackControl {
    let commands = NIOLockedValueBox<[String]>([])

    func status() async -> StackStatus {
        StackStatus(pid: 42, root: "/tmp/shop", startedAt: 1_700_000_000, adminURL: "http://127.0.0.1:9901", services: [
            ServiceStatus(name: "users", port: 7101, protocol: "http", replicas: [
                ReplicaStatus(instance: "users.1", pid: 100, port: 30001, state: .running, health: "healthy", restarts: 0, uptime: 5, lastExit: nil),
            ]),
            ServiceStatus(name: "orders", port: 7103, protocol: "http", replicas: [
                ReplicaStatus(instance: "orders.1", pid: 101, port: 30002, state: .backoff, health: "unhealthy", restarts: 3, uptime: nil, lastExit: "exit 1"),
            ]),
        ])
    }

    func perform(_ command: ServiceCommand, service: String) async throws {
        guard ["users", "orders"].contains(service) else { throw StackControlError.unknownService(service, known: ["users", "orders"]) }
        commands.withLockedValue { $0.append("\(command.rawValue) \(service)") }
    }

    func shutdown() async {
        commands.withLockedValue { $0.append("shutdown") }
    }
}

/// Canned traces and logs; remembers the filters it was asked with; `append` wakes waiters as the
/// store's writer does.
final class FakeTelemetry: TelemetryQuerying {
    struct State {
        var logs: [TelemetryLog] = []
        var traceFilters: [TraceFilter] = []
        var logFilters: [LogFilter] = []
        var graphSince: [UInt64] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let state = NIOLockedValueBox(State())
    let details: [String: TraceDetail]

    init(details: [TraceDetail] = FakeTelemetry.sampleTraces, logs: [TelemetryLog] = []) {
        self.details = Dictionary(uniqueKeysWithValues: details.map { ($0.traceID, $0) })
        state.withLockedValue { $0.logs = logs }
    }

    func traces(_ filter: TraceFilter) async throws -> [TraceSummary] {
        state.withLockedValue { $0.traceFilters.append(filter) }
        return details.values.map(TraceSummary.init).sorted { $0.startNanos > $1.startNanos }
    }

    func trace(_ id: String) async throws -> TraceDetail? {
        details.first { $0.key.hasPrefix(id) }?.value
    }

    func logs(_ filter: LogFilter) async throws -> [TelemetryLog] {
        state.withLockedValue { s in
            s.logFilters.append(filter)
            let after = filter.afterID ?? -1
            let matching = s.logs.filter { ($0.id ?? 0) > after && (filter.services.isEmpty || filter.services.contains($0.service)) }
            return Array(filter.afterID == nil ? matching.suffix(filter.limit) : matching.prefix(filter.limit))
        }
    }

    func lastLogID() async throws -> Int64 {
        state.withLockedValue { $0.logs.last?.id ?? 0 }
    }

    func waitForLogs(after id: Int64, timeout: Duration) async {
        // Resumed by `append` (or at once when a newer line is already there); `timeout` is the
        // caller's upper bound, and each caller here re-checks, so a wake-up without news is harmless.
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let ready = self.state.withLockedValue { s -> Bool in
                        if (s.logs.last?.id ?? 0) > id { return true }
                        s.waiters.append(continuation)
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
            self.wakeAll()
            await group.waitForAll()
        }
    }

    func append(_ line: TelemetryLog) {
        state.withLockedValue { $0.logs.append(line) }
        wakeAll()
    }

    private func wakeAll() {
        let waiters = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func traffic(sinceNanos: UInt64) async throws -> [String: TrafficMetrics] {
        ["users": TrafficMetrics(durations: [1_000_000, 2_000_000, 3_000_000], errors: 1, seconds: 60),
         "devmesh-gateway": TrafficMetrics(durations: [5_000_000], errors: 0, seconds: 60)]
    }

    func graph(sinceNanos: UInt64) async throws -> ServiceGraph {
        state.withLockedValue { $0.graphSince.append(sinceNanos) }
        return ServiceGraph(sinceNanos: sinceNanos, calls: [
            .init(from: "orders", to: "users", durationNanos: 2_000_000, isError: false),
            .init(from: "orders", to: "users", durationNanos: 4_000_000, isError: true),
        ], traffic: try await traffic(sinceNanos: sinceNanos), truncated: false)
    }

    static let traceA = String(repeating: "a", count: 32)
    static let traceB = String(repeating: "b", count: 32)

    static func span(_ trace: String, _ id: String, parent: String?, service: String, name: String, start: UInt64, duration: UInt64,
                     status: Int = 200, attributes: [String: AttributeValue] = [:]) -> TelemetrySpan {
        var attributes = attributes
        attributes["http.response.status_code"] = .int(Int64(status))
        return TelemetrySpan(traceID: trace, spanID: id, parentSpanID: parent, service: service, instance: service + ".1",
                             kind: .server, name: name, startNanos: start, durationNanos: duration, status: status >= 500 ? .error : .unset,
                             attributes: attributes, scope: "devmesh")
    }

    /// Two runs of `GET /orders`: in the second, the users call is slower and inventory failed.
    static var sampleTraces: [TraceDetail] {
        let t0: UInt64 = 1_800_000_000_000_000_000
        let a = TraceDetail(traceID: traceA, spans: [
            span(traceA, "a1", parent: nil, service: "orders", name: "GET /orders", start: t0, duration: 10_000_000,
                 attributes: ["user_agent.original": "<script>alert(1)</script>"]),
            span(traceA, "a2", parent: "a1", service: "users", name: "GET /users/1", start: t0 + 1_000_000, duration: 2_000_000),
            span(traceA, "a3", parent: "a1", service: "inventory", name: "GET /items", start: t0 + 4_000_000, duration: 3_000_000),
        ], logs: [TelemetryLog(id: 1, timeNanos: t0 + 2_000_000, service: "users", instance: "users.1", stream: "stdout",
                               body: "looked up user 1", traceID: traceA, spanID: "a2")])
        let b = TraceDetail(traceID: traceB, spans: [
            span(traceB, "b1", parent: nil, service: "orders", name: "GET /orders", start: t0 + 1_000_000_000, duration: 30_000_000),
            span(traceB, "b2", parent: "b1", service: "users", name: "GET /users/1", start: t0 + 1_001_000_000, duration: 20_000_000),
            span(traceB, "b3", parent: "b1", service: "inventory", name: "GET /items", start: t0 + 1_022_000_000, duration: 3_000_000, status: 503),
            span(traceB, "b4", parent: "b1", service: "inventory", name: "GET /items", start: t0 + 1_026_000_000, duration: 3_000_000),
        ], logs: [])
        return [a, b]
    }
}
