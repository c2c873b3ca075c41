import DevMeshCore
import DevMeshSupervisor
import Foundation
import NIOPosix

/// A real supervisor over shell-command services, its log lines recorded. Ports are free ports
/// on 127.0.0.1; commands run in a fresh temporary folder.
public struct SupervisorFixture: Sendable {
    public let recorder = LineRecorder()
    public let supervisor: Supervisor
    public let plan: SupervisionPlan
    public let root: String

    public init(_ services: [ServiceConfig], tuning: RestartTuning = .fast) throws {
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
                env["DEVMESH_SERVICE"] = s.name
                env["DEVMESH_REPLICA"] = String(i)
                replicas.append(.init(service: s, index: i, port: port,
                                      command: ProcessEnvironment.expandPort(in: s.run, port: port), environment: env))
            }
        }
        plan = SupervisionPlan(root: root, services: services, servicePorts: ports, replicas: replicas)
        let output = LogOutput(
            formatter: LogFormatter(instances: [], services: [], useColor: false, timestamps: false),
            sink: recorder, fd: open("/dev/null", O_WRONLY | O_CLOEXEC))
        supervisor = Supervisor(plan: plan, tuning: tuning, output: output,
                                probeGroup: MultiThreadedEventLoopGroup.singleton,
                                logGroup: MultiThreadedEventLoopGroup.singleton)
    }

    /// Runs the supervisor for the duration of `body`, then stops it and waits until it returns.
    public func running(_ body: () async throws -> Void) async throws {
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

    public func status(_ service: String) async -> ServiceStatus? {
        await supervisor.status().first { $0.name == service }
    }
}

extension RestartTuning {
    /// Short timings so tests need not wait for production back-offs.
    public static var fast: RestartTuning {
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
