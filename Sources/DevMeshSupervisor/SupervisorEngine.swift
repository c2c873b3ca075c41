import DevMeshCore
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The supervisor's mutable state and decisions. Used only inside `Supervisor.run()`'s loop, one
/// event at a time, so it needs no locks; it returns the async work (timers, probes) to start.
final class SupervisorEngine {
    typealias Work = @Sendable () async -> Void

    final class Slot {
        let replica: SupervisionPlan.Replica
        var lifecycle: ReplicaLifecycle
        var pidStartTime: UInt64?
        var autoStart = true
        var lastProbe: String?

        init(replica: SupervisionPlan.Replica, tuning: RestartTuning) {
            self.replica = replica
            lifecycle = ReplicaLifecycle(
                instanceID: replica.instanceID, restartPolicy: replica.service.restart,
                healthStartPeriod: replica.service.health?.startPeriod, tuning: tuning)
        }
    }

    private unowned let supervisor: Supervisor
    private let now: () -> Duration
    private let slots: [Slot]
    private let slotsByInstance: [String: Slot]
    private let startOrder: [String]
    private let needs: [String: [String]]
    private var shutdownLayers: [[String]]?
    private var shutdownIndex = 0
    private var announcedAllReady = false
    private var lastReady: Set<String> = []
    /// Process groups whose leader exited during a stop while other members may still be
    /// finishing (they got the SIGTERM too), by pgid → instance. The leader's zombie is kept
    /// unreaped until the group is empty, so the pgid cannot be reused meanwhile.
    private var draining: [Int32: String] = [:]
    private(set) var finished = false

    init(supervisor: Supervisor, now: @escaping () -> Duration) {
        self.supervisor = supervisor
        self.now = now
        slots = supervisor.plan.replicas.map { Slot(replica: $0, tuning: supervisor.tuning) }
        slotsByInstance = Dictionary(slots.map { ($0.replica.instanceID, $0) }, uniquingKeysWith: { a, _ in a })
        let graph = DependencyGraph(supervisor.plan.services)
        startOrder = graph.startOrder()
        needs = graph.needs
    }

    private var output: LogOutput { supervisor.output }

    private func slots(of service: String) -> [Slot] {
        slots.filter { $0.replica.service.name == service }
    }

    private func isReady(_ service: String) -> Bool {
        slots(of: service).contains { $0.lifecycle.isReady }
    }

    // MARK: - Start

    func begin() -> [Work] {
        if slots.isEmpty {
            output.announce("no services to run")
        }
        for name in startOrder {
            let waitingFor = (needs[name] ?? []).filter { !isReady($0) }
            if !waitingFor.isEmpty {
                output.announce("\(name) waits for \(waitingFor.joined(separator: ", ")) to be ready")
            }
        }
        return startEligible()
    }

    /// Starts every waiting service whose `needs` all have a ready replica.
    private func startEligible() -> [Work] {
        guard shutdownLayers == nil else { return [] }
        var work: [Work] = []
        for name in startOrder {
            let waiting = slots(of: name).filter { $0.lifecycle.state == .waiting && $0.autoStart }
            guard !waiting.isEmpty, (needs[name] ?? []).allSatisfy(isReady) else { continue }
            for slot in waiting {
                work += apply(slot.lifecycle.start(now: now()), to: slot)
            }
        }
        checkAllReady()
        return work
    }

    private func checkAllReady() {
        guard !announcedAllReady, !slots.isEmpty else { return }
        let services = Set(slots.map(\.replica.service.name))
        if services.allSatisfy(isReady) {
            announcedAllReady = true
            let elapsed = now()
            output.announce("all \(services.count) service\(services.count == 1 ? " is" : "s are") ready (\(DurationParser.format(elapsed)))")
            supervisor.hooks.allReady(elapsed)
        }
    }

    // MARK: - Events

    func handle(_ event: Supervisor.Event) -> [Work] {
        var work: [Work] = []
        switch event {
        case let .exited(instance, pid, status):
            guard let slot = slotsByInstance[instance], slot.lifecycle.pid == pid else {
                ProcessControl.reap(pid)
                break
            }
            if slot.lifecycle.state == .stopping {
                // Asked to stop: the rest of the group got the same SIGTERM; let it finish within the grace period.
                output.announce("\(instance) stopped (\(status))")
                draining[pid] = instance
                work.append(drainWork(pgid: pid))
            } else {
                // Exited on its own: what it left in its group is an orphan now. The unreaped
                // zombie still holds the pgid, so this signal cannot reach a stranger.
                ProcessControl.signalGroup(pid, SIGKILL)
                ProcessControl.reap(pid)
            }
            work += apply(slot.lifecycle.exited(status, now: now()), to: slot)
            childrenChanged()
        case let .groupDrained(pgid, killed):
            guard let instance = draining.removeValue(forKey: pgid) else { break }
            if killed {
                output.announce("processes \(instance) left behind did not stop within \(DurationParser.format(supervisor.tuning.stopGrace)); sent SIGKILL", severity: .warning)
            }
            ProcessControl.reap(pgid)
        case let .backoffElapsed(instance, generation):
            if let slot = slotsByInstance[instance] {
                work += apply(slot.lifecycle.backoffElapsed(generation: generation, now: now()), to: slot)
            }
        case let .startDeadline(instance, generation):
            if let slot = slotsByInstance[instance] {
                var actions = slot.lifecycle.startPeriodElapsed(generation: generation, now: now())
                if !actions.isEmpty, let detail = slot.lastProbe {
                    actions = actions.map {
                        if case let .announce(text, severity) = $0 { return .announce("\(text) (last probe: \(detail))", severity) }
                        return $0
                    }
                }
                work += apply(actions, to: slot)
            }
        case let .probed(instance, generation, result):
            guard let slot = slotsByInstance[instance] else { break }
            slot.lastProbe = result.detail
            work += apply(slot.lifecycle.probed(ok: result.ok, detail: result.detail, generation: generation, now: now()), to: slot)
            if slot.lifecycle.generation == generation, slot.lifecycle.isAlive {
                work.append(probeWork(slot))
            }
        case let .graceElapsed(instance, pid):
            if let slot = slotsByInstance[instance], slot.lifecycle.pid == pid {
                output.announce(
                    "\(instance) did not stop within \(DurationParser.format(supervisor.tuning.stopGrace)) of SIGTERM; sending SIGKILL",
                    severity: .warning)
                ProcessControl.signalGroup(pid, SIGKILL)
            }
        case let .command(command, service, reply):
            let targets = slots(of: service)
            if targets.isEmpty {
                reply.resume(throwing: StackControlError.unknownService(service, known: supervisor.plan.services.map(\.name)))
                break
            }
            if shutdownLayers != nil {
                reply.resume(throwing: CancellationError())
                break
            }
            output.announce("\(command.rawValue) \(service) (requested)")
            for slot in targets {
                switch command {
                case .restart: slot.autoStart = true; work += apply(slot.lifecycle.restart(now: now()), to: slot)
                case .start: slot.autoStart = true; work += apply(slot.lifecycle.start(now: now()), to: slot)
                case .stop: slot.autoStart = false; work += apply(slot.lifecycle.stop(now: now()), to: slot)
                }
            }
            reply.resume()
        case let .status(reply):
            reply.resume(returning: status())
        case .shutdown:
            if shutdownLayers == nil { work += beginShutdown() }
        }
        if shutdownLayers != nil {
            work += advanceShutdown()
        } else {
            work += startEligible()
        }
        let ready = Set(slots.filter { $0.lifecycle.isReady }.map(\.replica.instanceID))
        if ready != lastReady {
            lastReady = ready
            supervisor.hooks.readyChanged(ready)
        }
        return work
    }

    // MARK: - Actions

    private func apply(_ actions: [ReplicaLifecycle.Action], to slot: Slot) -> [Work] {
        var work: [Work] = []
        for action in actions {
            switch action {
            case .spawn:
                work += spawn(slot)
            case let .scheduleRestart(delay, generation):
                let instance = slot.replica.instanceID
                work.append { [supervisor] in
                    try? await Task.sleep(for: delay)
                    supervisor.yield(.backoffElapsed(instance: instance, generation: generation))
                }
            case let .scheduleStartDeadline(delay, generation):
                let instance = slot.replica.instanceID
                work.append { [supervisor] in
                    guard (try? await Task.sleep(for: delay)) != nil else { return }
                    supervisor.yield(.startDeadline(instance: instance, generation: generation))
                }
            case let .terminate(pid):
                ProcessControl.signalGroup(pid, SIGTERM)
                let instance = slot.replica.instanceID
                let grace = supervisor.tuning.stopGrace
                work.append { [supervisor] in
                    guard (try? await Task.sleep(for: grace)) != nil else { return }
                    supervisor.yield(.graceElapsed(instance: instance, pid: pid))
                }
            case let .announce(text, severity):
                output.announce(text, severity: severity)
            }
        }
        return work
    }

    private func spawn(_ slot: Slot) -> [Work] {
        let replica = slot.replica
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(command: replica.command, environment: replica.environment, directory: supervisor.plan.root)
        } catch {
            return apply(slot.lifecycle.spawnFailed(reason: "\(error)", now: now()), to: slot)
        }
        let instance = replica.instanceID
        let service = replica.service.name
        let output = self.output
        // Announced before the pipes are read, so "started" always precedes the app's first line.
        output.announce("\(instance) started (pid \(child.pid), PORT=\(replica.port)): \(replica.command)")
        for (fd, stream) in [(child.stdoutFD, LogLine.Stream.stdout), (child.stderrFD, .stderr)] {
            _ = LogPipeReader.attach(fd: fd, group: supervisor.logGroup) { text in
                output.emit(LogLine(instance: instance, service: service, stream: stream, timestamp: WallClock.system.now(), text: text))
            }
        }
        let pid = child.pid
        slot.pidStartTime = ProcessControl.startTime(of: pid)
        let supervisor = self.supervisor
        Thread.detachNewThread {
            let status: ExitStatus
            switch ProcessControl.waitForExitKeepingZombie(pid) {
            case .exited(let code): status = .exited(code: code)
            case .signaled(let signal): status = .signaled(signal: signal)
            }
            supervisor.yield(.exited(instance: instance, pid: pid, status: status))
        }
        var work = apply(slot.lifecycle.spawned(pid: pid, now: now()), to: slot)
        if replica.service.health != nil {
            work.append(probeWork(slot, first: true))
        }
        childrenChanged()
        return work
    }

    /// One probe after a delay: short while starting (fast readiness), the configured interval after.
    private func probeWork(_ slot: Slot, first: Bool = false) -> Work {
        guard let health = slot.replica.service.health else { return {} }
        let delay: Duration = first ? .milliseconds(50) : slot.lifecycle.state == .starting ? .milliseconds(100) : health.interval
        let instance = slot.replica.instanceID
        let generation = slot.lifecycle.generation
        let port = slot.replica.port
        let prober = supervisor.prober
        return { [supervisor] in
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            let result = await prober.probe(health.probe, port: port, timeout: health.timeout)
            supervisor.yield(.probed(instance: instance, generation: generation, result: result))
        }
    }

    /// Watches a stopped replica's process group until it is empty or the grace period is over.
    private func drainWork(pgid: Int32) -> Work {
        let grace = supervisor.tuning.stopGrace
        return { [supervisor] in
            let deadline = ContinuousClock.now + grace
            // Not our children: /proc is the only way to see them go.
            while !ProcessControl.groupMembers(pgid).isEmpty, ContinuousClock.now < deadline {
                guard (try? await Task.sleep(for: .milliseconds(20))) != nil else { break }
            }
            // Still there: SIGKILL (the leader's unreaped zombie keeps the pgid ours), and wait
            // for them to be gone, so that "stopped" really means no process is left.
            var killed = false
            if !ProcessControl.groupMembers(pgid).isEmpty {
                killed = true
                ProcessControl.signalGroup(pgid, SIGKILL)
                let killDeadline = ContinuousClock.now + .seconds(2)
                while !ProcessControl.groupMembers(pgid).isEmpty, ContinuousClock.now < killDeadline {
                    guard (try? await Task.sleep(for: .milliseconds(5))) != nil else { break }
                }
            }
            supervisor.yield(.groupDrained(pgid: pgid, killed: killed))
        }
    }

    private func childrenChanged() {
        let children = slots.compactMap { slot -> StackState.Child? in
            slot.lifecycle.pid.map { StackState.Child(instance: slot.replica.instanceID, pid: $0, startTime: slot.pidStartTime) }
        }
        supervisor.hooks.childrenChanged(children)
    }

    // MARK: - Shutdown

    /// Dependents stop before what they need: layers by depth in the `needs` graph, deepest first.
    private func beginShutdown() -> [Work] {
        var depth: [String: Int] = [:]
        func depthOf(_ name: String, _ visiting: Set<String>) -> Int {
            if let d = depth[name] { return d }
            let d = (needs[name] ?? []).filter { !visiting.contains($0) }
                .map { depthOf($0, visiting.union([name])) + 1 }.max() ?? 0
            depth[name] = d
            return d
        }
        for name in startOrder { _ = depthOf(name, []) }
        let maxDepth = depth.values.max() ?? 0
        shutdownLayers = stride(from: maxDepth, through: 0, by: -1).map { d in startOrder.filter { depth[$0] == d } }
        shutdownIndex = -1
        if slots.contains(where: { $0.lifecycle.isAlive }) {
            output.announce("stopping all services")
        }
        return []
    }

    private func advanceShutdown() -> [Work] {
        guard let layers = shutdownLayers else { return [] }
        var work: [Work] = []
        while true {
            if shutdownIndex >= 0, shutdownIndex < layers.count {
                let layer = layers[shutdownIndex].flatMap(slots(of:))
                let alive = layer.filter { $0.lifecycle.isAlive }
                let instances = Set(layer.map(\.replica.instanceID))
                if !alive.isEmpty || draining.values.contains(where: instances.contains) { return work }
            }
            shutdownIndex = min(shutdownIndex + 1, layers.count)
            if shutdownIndex >= layers.count {
                guard draining.isEmpty else { return work }
                if !finished {
                    finished = true
                    output.announce("all services stopped")
                }
                return work
            }
            for slot in layers[shutdownIndex].flatMap(slots(of:)) {
                work += apply(slot.lifecycle.stop(now: now()), to: slot)
            }
        }
    }

    /// Last resort when the loop was cancelled: SIGKILL every live process group.
    func killEverything() {
        for slot in slots {
            if let pid = slot.lifecycle.pid {
                ProcessControl.signalGroup(pid, SIGKILL)
            }
        }
        for pgid in draining.keys {
            ProcessControl.signalGroup(pgid, SIGKILL)
            ProcessControl.reap(pgid)
        }
        draining = [:]
    }

    // MARK: - Status

    private func status() -> [ServiceStatus] {
        let current = now()
        return supervisor.plan.services.map { service in
            ServiceStatus(
                name: service.name,
                port: supervisor.plan.servicePorts[service.name],
                protocol: service.protocol.rawValue,
                replicas: slots(of: service.name).map { slot in
                    let lc = slot.lifecycle
                    let health: String
                    if service.health == nil { health = "none" } else {
                        switch lc.healthy {
                        case true?: health = "healthy"
                        case false?: health = "unhealthy"
                        case nil: health = "unknown"
                        }
                    }
                    let uptime = lc.pid != nil ? lc.startedAt.map { Self.seconds(current - $0) } : nil
                    return ReplicaStatus(
                        instance: slot.replica.instanceID, pid: lc.pid, port: slot.replica.port, state: lc.state,
                        health: health, restarts: lc.restarts, uptime: uptime, lastExit: lc.lastExit.map { "\($0)" })
                })
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
