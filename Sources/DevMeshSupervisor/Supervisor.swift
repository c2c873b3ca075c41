import DevMeshCore
import Foundation
import NIOCore
import ServiceLifecycle

/// Runs a stack's processes: starts them in `needs` order gated on health, restarts them per
/// policy, and stops them in reverse order on shutdown. A `Service` for one `ServiceGroup`.
///
/// All decisions happen in one loop over an event stream (process exits, probe results, timers,
/// commands), driving a `ReplicaLifecycle` value per replica; timers and probes are child tasks
/// of the loop's task group, exit waits are threads of their own (waitpid blocks).
public final class Supervisor: Service, Sendable {
    enum Event: Sendable {
        case exited(instance: String, pid: Int32, status: ExitStatus)
        case backoffElapsed(instance: String, generation: Int)
        case startDeadline(instance: String, generation: Int)
        case probed(instance: String, generation: Int, result: HealthProber.Result)
        case graceElapsed(instance: String, pid: Int32)
        case groupDrained(pgid: Int32, killed: Bool)
        case command(ServiceCommand, service: String, reply: CheckedContinuation<Void, any Error>)
        case status(reply: CheckedContinuation<[ServiceStatus], Never>)
        case shutdown
    }

    public struct Hooks: Sendable {
        /// The set of live children changed (for `.devmesh/state.json`).
        public var childrenChanged: @Sendable ([StackState.Child]) -> Void
        /// Every service of the plan is ready for the first time.
        public var allReady: @Sendable (Duration) -> Void
        /// The set of ready replicas (instance ids) changed: what the sidecars balance over.
        public var readyChanged: @Sendable (Set<String>) -> Void

        public init(childrenChanged: @escaping @Sendable ([StackState.Child]) -> Void = { _ in },
                    allReady: @escaping @Sendable (Duration) -> Void = { _ in },
                    readyChanged: @escaping @Sendable (Set<String>) -> Void = { _ in }) {
            self.childrenChanged = childrenChanged
            self.allReady = allReady
            self.readyChanged = readyChanged
        }
    }

    let plan: SupervisionPlan
    let tuning: RestartTuning
    let output: LogOutput
    let prober: HealthProber
    let logGroup: any EventLoopGroup
    let hooks: Hooks
    let startGate: AsyncGate?
    private let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation

    /// `probeGroup` runs health probes; `logGroup` reads the children's pipes (its own group, so a
    /// slow terminal only slows log reading, never other I/O).
    public init(plan: SupervisionPlan, tuning: RestartTuning = RestartTuning(), output: LogOutput,
                probeGroup: any EventLoopGroup, logGroup: any EventLoopGroup, hooks: Hooks = Hooks(),
                startGate: AsyncGate? = nil) {
        self.plan = plan
        self.tuning = tuning
        self.output = output
        self.prober = HealthProber(group: probeGroup)
        self.logGroup = logGroup
        self.hooks = hooks
        self.startGate = startGate
        (events, continuation) = AsyncStream.makeStream(of: Event.self)
    }

    // MARK: - Queries and commands (from the admin API)

    public func status() async -> [ServiceStatus] {
        await withCheckedContinuation { reply in
            if case .terminated = continuation.yield(.status(reply: reply)) { reply.resume(returning: []) }
        }
    }

    public func perform(_ command: ServiceCommand, service: String) async throws {
        try await withCheckedThrowingContinuation { reply in
            if case .terminated = continuation.yield(.command(command, service: service, reply: reply)) {
                reply.resume(throwing: CancellationError())
            }
        }
    }

    /// Starts the orderly stop (same as a graceful shutdown of the service group).
    public func stopAll() {
        continuation.yield(.shutdown)
    }

    // MARK: - Run loop

    /// With a start gate, nothing starts until it opens; cancelled before that, nothing ran.
    public func run() async throws {
        if let startGate {
            await cancelWhenGracefulShutdown { await startGate.wait() }
            guard startGate.isOpen else {
                await drainAfterStop()
                return
            }
        }
        let clock = ContinuousClock()
        let origin = clock.now
        let engine = SupervisorEngine(supervisor: self, now: { clock.now - origin })
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for work in engine.begin() { group.addTask(operation: work) }
                for await event in self.events {
                    for work in engine.handle(event) { group.addTask(operation: work) }
                    if engine.finished { break }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.continuation.yield(.shutdown)
        }
        // Cancelled before an orderly stop finished: nothing may outlive devmesh.
        engine.killEverything()
        await drainAfterStop()
    }

    /// Answers whatever is still queued, so no caller of `status()` or `perform()` waits forever.
    private func drainAfterStop() async {
        continuation.finish()
        for await event in events {
            switch event {
            case .status(let reply): reply.resume(returning: [])
            case .command(_, _, let reply): reply.resume(throwing: CancellationError())
            default: break
            }
        }
    }

    func yield(_ event: Event) {
        continuation.yield(event)
    }
}
