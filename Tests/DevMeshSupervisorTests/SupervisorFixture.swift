import DevMeshCore
import DevMeshSupervisor
import Foundation
import NIOConcurrencyHelpers
import NIOPosix

/// Records every log line and lets a test wait for one, event-driven (no sleeping).
/// Predicates run under the recorder's lock: they must not call back into the recorder.
final class LineRecorder: LogSink, Sendable {
    private struct State {
        var lines: [LogLine] = []
        var waiters: [(predicate: @Sendable (LogLine) -> Bool, continuation: CheckedContinuation<LogLine?, Never>)] = []
    }

    private let state = NIOLockedValueBox(State())

    func append(_ line: LogLine) {
        let ready = state.withLockedValue { s -> [CheckedContinuation<LogLine?, Never>] in
            s.lines.append(line)
            var matched: [CheckedContinuation<LogLine?, Never>] = []
            s.waiters.removeAll { waiter in
                if waiter.predicate(line) { matched.append(waiter.continuation); return true }
                return false
            }
            return matched
        }
        for c in ready { c.resume(returning: line) }
    }

    var lines: [LogLine] { state.withLockedValue { $0.lines } }
    var texts: [String] { lines.map(\.text) }

    func index(of predicate: (LogLine) -> Bool) -> Int? { lines.firstIndex(where: predicate) }

    /// The first line (already seen or still to come) matching `predicate`, or nil after `timeout`.
    func wait(timeout: Duration = .seconds(20), for predicate: @escaping @Sendable (LogLine) -> Bool) async -> LogLine? {
        await withTaskGroup(of: LogLine?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let existing = self.state.withLockedValue { s -> LogLine? in
                        if let hit = s.lines.first(where: predicate) { return hit }
                        s.waiters.append((predicate, continuation))
                        return nil
                    }
                    if let existing { continuation.resume(returning: existing) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil { self.releaseWaiters() }
            group.cancelAll()
            _ = await group.next()
            return first
        }
    }

    func waitForText(_ fragment: String, timeout: Duration = .seconds(20)) async -> LogLine? {
        await wait(timeout: timeout) { $0.text.contains(fragment) }
    }

    private func releaseWaiters() {
        let all = state.withLockedValue { s -> [CheckedContinuation<LogLine?, Never>] in
            defer { s.waiters = [] }
            return s.waiters.map(\.continuation)
        }
        for c in all { c.resume(returning: nil) }
    }
}

/// Builds a plan from shell commands and runs a real supervisor over it.
struct SupervisorFixture {
    let recorder = LineRecorder()
    let supervisor: Supervisor
    let plan: SupervisionPlan
    let root: String

    init(_ services: [ServiceConfig], tuning: RestartTuning = .fast) throws {
        root = NSTemporaryDirectory() + "devmesh-sup-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var replicas: [SupervisionPlan.Replica] = []
        var ports: [String: Int] = [:]
        var taken = Set<Int>()
        for s in services {
            for i in 1...s.replicas {
                let port = try PortAllocator.freePorts(1, excluding: taken)[0]
                taken.insert(port)
                ports[s.name] = ports[s.name] ?? port
                var env = ProcessInfo.processInfo.environment
                env["PORT"] = String(port)
                replicas.append(.init(service: s, index: i, port: port,
                                      command: ProcessEnvironment.expandPort(in: s.run, port: port), environment: env))
            }
        }
        plan = SupervisionPlan(root: root, services: services, servicePorts: ports, replicas: replicas)
        let output = LogOutput(
            formatter: LogFormatter(instances: [], services: [], useColor: false, timestamps: false),
            sink: recorder, fd: open("/dev/null", O_WRONLY))
        supervisor = Supervisor(plan: plan, tuning: tuning, output: output,
                                probeGroup: MultiThreadedEventLoopGroup.singleton,
                                logGroup: MultiThreadedEventLoopGroup.singleton)
    }

    /// Runs the supervisor for the duration of `body`, then stops it and waits until it returns.
    func running(_ body: () async throws -> Void) async throws {
        let supervisor = self.supervisor
        let task = Task { try await supervisor.run() }
        do {
            try await body()
        } catch {
            supervisor.stopAll()
            try? await task.value
            throw error
        }
        supervisor.stopAll()
        try await task.value
    }

    func status(_ service: String) async -> ServiceStatus? {
        await supervisor.status().first { $0.name == service }
    }
}

extension RestartTuning {
    static var fast: RestartTuning {
        var t = RestartTuning()
        t.initialBackoff = .milliseconds(100)
        t.maxBackoff = .seconds(2)
        t.stableAfter = .seconds(5)
        t.crashLoopCount = 50
        t.crashLoopWindow = .seconds(60)
        t.stopGrace = .milliseconds(500)
        return t
    }
}
