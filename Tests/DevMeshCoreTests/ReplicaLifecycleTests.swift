import DevMeshCore
import Testing

@Suite struct ReplicaLifecycleTests {
    var tuning: RestartTuning {
        var t = RestartTuning()
        t.initialBackoff = .milliseconds(100)
        t.maxBackoff = .milliseconds(1000)
        t.stableAfter = .seconds(10)
        t.crashLoopCount = 4
        t.crashLoopWindow = .seconds(60)
        return t
    }

    func lifecycle(_ policy: RestartPolicy = .onFailure, health: Bool = false) -> ReplicaLifecycle {
        ReplicaLifecycle(instanceID: "users.1", restartPolicy: policy, healthStartPeriod: health ? .seconds(30) : nil, tuning: tuning)
    }

    static func delays(_ actions: [ReplicaLifecycle.Action]) -> [Duration] {
        actions.compactMap { if case let .scheduleRestart(d, _) = $0 { return d } else { return nil } }
    }

    @Test func startsWithoutHealthCheckAsReady() {
        var lc = lifecycle()
        #expect(lc.start(now: .zero) == [.spawn])
        _ = lc.spawned(pid: 10, now: .zero)
        #expect(lc.state == .running)
        #expect(lc.isReady)
    }

    @Test func healthCheckGatesReadiness() {
        var lc = lifecycle(health: true)
        _ = lc.start(now: .zero)
        let actions = lc.spawned(pid: 10, now: .zero)
        #expect(actions == [.scheduleStartDeadline(after: .seconds(30), generation: lc.generation)])
        #expect(lc.state == .starting)
        #expect(!lc.isReady)
        #expect(lc.probed(ok: false, detail: "refused", generation: lc.generation, now: .milliseconds(100)).isEmpty)
        #expect(!lc.isReady)
        let ok = lc.probed(ok: true, detail: "200", generation: lc.generation, now: .milliseconds(300))
        #expect(lc.isReady)
        #expect(ok == [.announce("users.1 is healthy (after 300ms)", nil)])
    }

    @Test func staleProbeResultsAreIgnored() {
        var lc = lifecycle(health: true)
        _ = lc.start(now: .zero)
        _ = lc.spawned(pid: 10, now: .zero)
        let old = lc.generation
        _ = lc.exited(.exited(code: 1), now: .seconds(1))
        #expect(lc.probed(ok: true, detail: "", generation: old, now: .seconds(1)).isEmpty)
        #expect(!lc.isReady)
    }

    @Test func unhealthyAfterConsecutiveFailuresAndRecovers() {
        var lc = lifecycle(health: true)
        _ = lc.start(now: .zero)
        _ = lc.spawned(pid: 10, now: .zero)
        _ = lc.probed(ok: true, detail: "", generation: lc.generation, now: .seconds(1))
        #expect(lc.probed(ok: false, detail: "500", generation: lc.generation, now: .seconds(2)).isEmpty)
        #expect(lc.probed(ok: false, detail: "500", generation: lc.generation, now: .seconds(3)).isEmpty)
        #expect(lc.isReady)
        let third = lc.probed(ok: false, detail: "GET /healthz answered 500", generation: lc.generation, now: .seconds(4))
        #expect(third == [.announce("users.1 is unhealthy: GET /healthz answered 500", .warning)])
        #expect(!lc.isReady)
        #expect(lc.healthy == false)
        #expect(lc.probed(ok: true, detail: "", generation: lc.generation, now: .seconds(5)) == [.announce("users.1 is healthy again", nil)])
        #expect(lc.isReady)
    }

    @Test func backoffDoublesUpToTheMaximum() {
        var lc = lifecycle(.always)
        var t: Duration = .zero
        _ = lc.start(now: t)
        var delays: [Duration] = []
        for _ in 0..<3 {
            _ = lc.spawned(pid: 10, now: t)
            t += .milliseconds(10)
            let actions = lc.exited(.exited(code: 1), now: t)
            delays += Self.delays(actions)
            #expect(lc.state == .backoff)
            guard case let .scheduleRestart(_, generation)? = actions.last else { Issue.record("no restart scheduled"); return }
            #expect(lc.backoffElapsed(generation: generation, now: t) == [.spawn])
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400)])
        #expect(lc.restarts == 3)
        #expect(tuning.backoff(attempt: 10) == .milliseconds(1000))
    }

    @Test func crashLoopStopsRestarting() {
        var lc = lifecycle(.always)
        var t: Duration = .zero
        _ = lc.start(now: t)
        var last: [ReplicaLifecycle.Action] = []
        for _ in 0..<4 {
            _ = lc.spawned(pid: 10, now: t)
            t += .milliseconds(50)
            last = lc.exited(.exited(code: 2), now: t)
        }
        #expect(lc.state == .crashLooped)
        #expect(Self.delays(last).isEmpty)
        guard case let .announce(text, severity)? = last.first else { Issue.record("no announcement"); return }
        #expect(severity == .error)
        #expect(text.contains("crashed 4 times"))
        #expect(text.contains("devmesh restart users"))
        // `devmesh restart` revives it with fresh counters.
        #expect(lc.restart(now: t) == [.spawn])
    }

    @Test func aStableRunResetsTheBackoff() {
        var lc = lifecycle(.always)
        _ = lc.start(now: .zero)
        _ = lc.spawned(pid: 10, now: .zero)
        #expect(Self.delays(lc.exited(.exited(code: 1), now: .milliseconds(10))) == [.milliseconds(100)])
        _ = lc.spawned(pid: 11, now: .seconds(1))
        #expect(Self.delays(lc.exited(.exited(code: 1), now: .seconds(2))) == [.milliseconds(200)])
        _ = lc.spawned(pid: 12, now: .seconds(3))
        // Ran 20s: stable, so the next delay starts from the beginning again.
        #expect(Self.delays(lc.exited(.exited(code: 1), now: .seconds(23))) == [.milliseconds(100)])
    }

    @Test func restartPolicies() {
        var never = lifecycle(.never)
        _ = never.start(now: .zero)
        _ = never.spawned(pid: 1, now: .zero)
        _ = never.exited(.exited(code: 1), now: .seconds(1))
        #expect(never.state == .stopped)

        var onFailure = lifecycle(.onFailure)
        _ = onFailure.start(now: .zero)
        _ = onFailure.spawned(pid: 1, now: .zero)
        _ = onFailure.exited(.exited(code: 0), now: .seconds(1))
        #expect(onFailure.state == .stopped)
        _ = onFailure.start(now: .seconds(2))
        _ = onFailure.spawned(pid: 2, now: .seconds(2))
        _ = onFailure.exited(.signaled(signal: 9), now: .seconds(3))
        #expect(onFailure.state == .backoff)

        var always = lifecycle(.always)
        _ = always.start(now: .zero)
        _ = always.spawned(pid: 1, now: .zero)
        _ = always.exited(.exited(code: 0), now: .seconds(1))
        #expect(always.state == .backoff)
    }

    @Test func stopTerminatesAndDoesNotRestart() {
        var lc = lifecycle(.always)
        _ = lc.start(now: .zero)
        _ = lc.spawned(pid: 42, now: .zero)
        #expect(lc.stop(now: .seconds(1)) == [.terminate(pid: 42)])
        #expect(lc.state == .stopping)
        #expect(lc.exited(.signaled(signal: 15), now: .seconds(1)).isEmpty)
        #expect(lc.state == .stopped)
    }

    @Test func stopDuringBackoffCancelsTheRestart() {
        var lc = lifecycle(.always)
        _ = lc.start(now: .zero)
        _ = lc.spawned(pid: 42, now: .zero)
        let actions = lc.exited(.exited(code: 1), now: .seconds(1))
        guard case let .scheduleRestart(_, generation)? = actions.last else { Issue.record("no restart"); return }
        _ = lc.stop(now: .seconds(1))
        #expect(lc.backoffElapsed(generation: generation, now: .seconds(2)).isEmpty)
        #expect(lc.state == .stopped)
    }

    @Test func restartOfARunningReplicaStopsThenSpawns() {
        var lc = lifecycle(.onFailure)
        _ = lc.start(now: .zero)
        _ = lc.spawned(pid: 7, now: .zero)
        #expect(lc.restart(now: .seconds(1)) == [.terminate(pid: 7)])
        #expect(lc.exited(.signaled(signal: 15), now: .seconds(1)) == [.spawn])
        _ = lc.spawned(pid: 8, now: .seconds(1))
        #expect(lc.state == .running)
        #expect(lc.restarts == 0)
    }

    @Test func spawnFailureRespectsRestartNever() {
        var lc = lifecycle(.never)
        _ = lc.start(now: .zero)
        let actions = lc.spawnFailed(reason: "no such file", now: .zero)
        #expect(lc.state == .stopped)
        #expect(Self.delays(actions).isEmpty)
    }

    @Test func spawnFailureCountsAsACrash() {
        var lc = lifecycle(.always)
        _ = lc.start(now: .zero)
        let actions = lc.spawnFailed(reason: "no such file", now: .zero)
        #expect(lc.state == .backoff)
        #expect(Self.delays(actions) == [.milliseconds(100)])
    }
}
