/// The life of one replica as a value: events in, actions out. The supervisor does the I/O.
///
/// Times are monotonic offsets (`now`) supplied by the caller, so tests drive it with plain numbers.
public struct ReplicaLifecycle: Sendable, Equatable {
    public enum State: String, Sendable, Equatable, Codable {
        /// Not started yet: waiting for the services it needs.
        case waiting
        /// Running, not yet healthy (only with a health check).
        case starting
        /// Running and ready.
        case running
        /// Crashed; a restart is scheduled.
        case backoff
        /// Crashed too often too fast; restarts stopped until `devmesh restart`.
        case crashLooped = "crash-looped"
        /// SIGTERM sent, waiting for the exit.
        case stopping
        /// Not running and not to be restarted (stopped by request, or exited under its restart policy).
        case stopped
    }

    public enum Action: Sendable, Equatable {
        /// Start the process now.
        case spawn
        /// Call `backoffElapsed(generation:)` after this delay.
        case scheduleRestart(after: Duration, generation: Int)
        /// Call `startPeriodElapsed(generation:)` after this delay.
        case scheduleStartDeadline(after: Duration, generation: Int)
        /// Send SIGTERM to the process group; SIGKILL after the grace period if still alive.
        case terminate(pid: Int32)
        /// Tell the user (a devmesh log line).
        case announce(String, Diagnostic.Severity?)
    }

    public let instanceID: String
    public let restartPolicy: RestartPolicy
    /// With a health check: how long it may take to become healthy before devmesh warns.
    public let healthStartPeriod: Duration?
    public let tuning: RestartTuning

    public private(set) var state: State = .waiting
    public private(set) var pid: Int32?
    /// Restarts after crashes (not counting requested restarts).
    public private(set) var restarts: Int = 0
    /// `nil` until the first probe result while running.
    public private(set) var healthy: Bool?
    public private(set) var startedAt: Duration?
    public private(set) var lastExit: ExitStatus?
    /// Bumped on every spawn and stop, so late timers and probe results of an old run are ignored.
    public private(set) var generation: Int = 0

    private var wantRunning = false
    private var restartAfterExit = false
    private var quickCrashes: [Duration] = []
    private var attempt = 0
    private var consecutiveProbeFailures = 0

    public init(instanceID: String, restartPolicy: RestartPolicy, healthStartPeriod: Duration?, tuning: RestartTuning = RestartTuning()) {
        self.instanceID = instanceID
        self.restartPolicy = restartPolicy
        self.healthStartPeriod = healthStartPeriod
        self.tuning = tuning
    }

    /// Ready to take traffic: running and not failing its health check.
    public var isReady: Bool { state == .running && healthy != false }
    /// A process exists (or is being stopped).
    public var isAlive: Bool { pid != nil }

    // MARK: - Requests

    /// Start (first start, or `devmesh start`). A crash-looped or stopped replica starts afresh.
    public mutating func start(now: Duration) -> [Action] {
        wantRunning = true
        switch state {
        case .waiting, .stopped, .crashLooped, .backoff:
            quickCrashes = []
            attempt = 0
            return [.spawn]
        case .stopping:
            restartAfterExit = true
            return []
        case .starting, .running:
            return []
        }
    }

    /// Stop (`devmesh stop`, or shutdown).
    public mutating func stop(now: Duration) -> [Action] {
        wantRunning = false
        restartAfterExit = false
        switch state {
        case .starting, .running:
            state = .stopping
            generation += 1
            return pid.map { [.terminate(pid: $0)] } ?? []
        case .backoff, .crashLooped, .waiting:
            state = .stopped
            generation += 1
            return []
        case .stopping, .stopped:
            return []
        }
    }

    /// Restart (`devmesh restart`): stop if running, then start at once, with fresh crash counters.
    public mutating func restart(now: Duration) -> [Action] {
        if let pid, state == .starting || state == .running {
            wantRunning = true
            restartAfterExit = true
            state = .stopping
            generation += 1
            return [.terminate(pid: pid)]
        }
        if state == .stopping {
            wantRunning = true
            restartAfterExit = true
            return []
        }
        generation += 1
        return start(now: now)
    }

    // MARK: - Process events

    public mutating func spawned(pid: Int32, now: Duration) -> [Action] {
        self.pid = pid
        startedAt = now
        generation += 1
        healthy = nil
        consecutiveProbeFailures = 0
        if let healthStartPeriod {
            state = .starting
            return [.scheduleStartDeadline(after: healthStartPeriod, generation: generation)]
        }
        state = .running
        return []
    }

    /// The process could not be started at all (bad command, exec failure): a crash that never ran.
    public mutating func spawnFailed(reason: String, now: Duration) -> [Action] {
        startedAt = now
        if restartPolicy == .never || !wantRunning {
            state = .stopped
            lastExit = .exited(code: 127)
            return [.announce("\(instanceID) could not start: \(reason); not restarting (restart: never)", .error)]
        }
        return crashed(description: "could not start: \(reason)", status: .exited(code: 127), now: now)
    }

    public mutating func exited(_ status: ExitStatus, now: Duration) -> [Action] {
        pid = nil
        lastExit = status
        generation += 1
        healthy = nil
        if state == .stopping || !wantRunning {
            if restartAfterExit {
                restartAfterExit = false
                quickCrashes = []
                attempt = 0
                return [.spawn]
            }
            state = .stopped
            return []
        }
        switch restartPolicy {
        case .never:
            state = .stopped
            return [.announce("\(instanceID) \(status); not restarting (restart: never)", status.isSuccess ? nil : .warning)]
        case .onFailure where status.isSuccess:
            state = .stopped
            return [.announce("\(instanceID) exited with code 0; not restarting (restart: on-failure)", nil)]
        default:
            return crashed(description: "\(status)", status: status, now: now)
        }
    }

    private mutating func crashed(description: String, status: ExitStatus, now: Duration) -> [Action] {
        lastExit = status
        pid = nil
        let ranFor = startedAt.map { now - $0 } ?? .zero
        if ranFor >= tuning.stableAfter {
            quickCrashes = []
            attempt = 0
        } else {
            quickCrashes.append(now)
            quickCrashes.removeAll { now - $0 > tuning.crashLoopWindow }
        }
        if quickCrashes.count >= tuning.crashLoopCount {
            state = .crashLooped
            generation += 1
            let window = DurationParser.format(tuning.crashLoopWindow)
            return [.announce(
                "\(instanceID) \(description) — it crashed \(quickCrashes.count) times within \(window); devmesh stops restarting it. Fix it, then run `devmesh restart \(instanceID.split(separator: ".").dropLast().joined(separator: "."))`",
                .error)]
        }
        let delay = tuning.backoff(attempt: attempt)
        attempt += 1
        restarts += 1
        state = .backoff
        generation += 1
        return [
            .announce("\(instanceID) \(description); restarting in \(DurationParser.format(delay))", .warning),
            .scheduleRestart(after: delay, generation: generation),
        ]
    }

    // MARK: - Timers and probes

    public mutating func backoffElapsed(generation: Int, now: Duration) -> [Action] {
        guard generation == self.generation, state == .backoff, wantRunning else { return [] }
        return [.spawn]
    }

    public mutating func startPeriodElapsed(generation: Int, now: Duration) -> [Action] {
        guard generation == self.generation, state == .starting, let healthStartPeriod else { return [] }
        return [.announce(
            "\(instanceID) is not healthy \(DurationParser.format(healthStartPeriod)) after it started; services that need it keep waiting",
            .warning)]
    }

    /// A health probe's result for the run identified by `generation`.
    public mutating func probed(ok: Bool, detail: String, generation: Int, now: Duration) -> [Action] {
        guard generation == self.generation, pid != nil else { return [] }
        switch state {
        case .starting:
            guard ok else { return [] }
            state = .running
            healthy = true
            consecutiveProbeFailures = 0
            let after = startedAt.map { DurationParser.format(now - $0) } ?? "?"
            return [.announce("\(instanceID) is healthy (after \(after))", nil)]
        case .running:
            if ok {
                consecutiveProbeFailures = 0
                if healthy == false {
                    healthy = true
                    return [.announce("\(instanceID) is healthy again", nil)]
                }
                healthy = true
                return []
            }
            consecutiveProbeFailures += 1
            if consecutiveProbeFailures >= tuning.unhealthyAfter, healthy != false {
                healthy = false
                return [.announce("\(instanceID) is unhealthy: \(detail)", .warning)]
            }
            return []
        default:
            return []
        }
    }
}
