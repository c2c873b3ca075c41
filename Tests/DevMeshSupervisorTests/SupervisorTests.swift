import DevMeshCore
import DevMeshSupervisor
import DevMeshTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(2))) struct SupervisorTests {
    /// An HTTP server that only starts listening after `delay` seconds.
    static func slowHTTPServer(delay: String) -> String {
        "sleep \(delay) && exec python3 -m http.server $PORT --bind 127.0.0.1"
    }

    @Test func dependentsStartOnlyAfterWhatTheyNeedIsHealthy() async throws {
        let fixture = try SupervisorFixture([
            ServiceConfig(name: "web", run: "echo web-up; exec sleep 60", needs: ["db"]),
            ServiceConfig(name: "db", run: Self.slowHTTPServer(delay: "0.4"), health: HealthCheck(probe: .http(path: "/"))),
        ])
        try await fixture.running {
            #expect(await fixture.recorder.wait(forPrefix: "web.1 started") != nil)
            let healthy = try #require(fixture.recorder.index(where: { $0.text.hasPrefix("db.1 is healthy") }))
            let webStarted = try #require(fixture.recorder.index(where: { $0.text.hasPrefix("web.1 started") }))
            let dbStarted = try #require(fixture.recorder.index(where: { $0.text.hasPrefix("db.1 started") }))
            #expect(dbStarted < healthy)
            #expect(healthy < webStarted)
            #expect(fixture.recorder.texts.contains("web waits for db to be ready"))
            #expect(await fixture.recorder.waitForText("all 2 services are ready") != nil)
        }
    }

    @Test func crashedServiceIsRestartedWithGrowingBackoff() async throws {
        let fixture = try SupervisorFixture([ServiceConfig(name: "flaky", run: "echo run; exit 3", restart: .onFailure)])
        try await fixture.running {
            #expect(await fixture.recorder.wait(forPrefix: "flaky.1 exited with code 3; restarting in 400ms") != nil)
            let starts = fixture.recorder.lines.items.filter { $0.text.hasPrefix("flaky.1 started") }.map(\.timestamp)
            #expect(starts.count >= 3)
            // 100ms, then 200ms between attempts (plus process start time).
            #expect(starts[1] - starts[0] >= 0.1)
            #expect(starts[2] - starts[1] >= 0.2)
            #expect(fixture.recorder.texts.contains("flaky.1 exited with code 3; restarting in 100ms"))
            #expect(fixture.recorder.texts.contains("flaky.1 exited with code 3; restarting in 200ms"))
            #expect((await fixture.status("flaky")?.replicas[0].restarts ?? 0) >= 3)
        }
    }

    @Test func crashLoopStopsRestartsUntilRestartIsAsked() async throws {
        var tuning = RestartTuning.fast
        tuning.initialBackoff = .milliseconds(10)
        tuning.crashLoopCount = 3
        let fixture = try SupervisorFixture([ServiceConfig(name: "broken", run: "exit 1", restart: .always)], tuning: tuning)
        try await fixture.running {
            let line = try #require(await fixture.recorder.waitForText("devmesh stops restarting it"))
            #expect(line.severity == .error)
            #expect(line.text.contains("crashed 3 times"))
            #expect(await fixture.status("broken")?.replicas[0].state == .crashLooped)
            let startsBefore = fixture.recorder.texts.filter { $0.hasPrefix("broken.1 started") }.count
            #expect(startsBefore == 3)
            try await fixture.supervisor.perform(.restart, service: "broken")
            // Revived with fresh counters: three more quick crashes until it is stopped again.
            let firstLoop = line.timestamp
            #expect(await fixture.recorder.wait { $0.text.contains("devmesh stops restarting it") && $0.timestamp > firstLoop } != nil)
            #expect(fixture.recorder.texts.filter { $0.hasPrefix("broken.1 started") }.count == 6)
        }
    }

    @Test func restartPolicyNeverLeavesItStopped() async throws {
        let fixture = try SupervisorFixture([ServiceConfig(name: "once", run: "echo done", restart: .never)])
        try await fixture.running {
            #expect(await fixture.recorder.waitForText("not restarting (restart: never)") != nil)
            #expect(await fixture.status("once")?.replicas[0].state == .stopped)
            #expect(await fixture.recorder.waitForText("done") != nil)
        }
    }

    /// How many processes the group has, once it has `count` (or 5 s passed).
    static func groupMembers(_ pgid: Int32, atLeast count: Int) async -> Int {
        let deadline = ContinuousClock.now + .seconds(5)
        while ProcessControl.groupMembers(pgid).count < count, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return ProcessControl.groupMembers(pgid).count
    }

    @Test func stopKillsEveryProcessOfEveryGroupInReverseOrder() async throws {
        let fixture = try SupervisorFixture([
            ServiceConfig(name: "base", run: "sleep 300 & sleep 300 & echo base-up; wait"),
            ServiceConfig(name: "stubborn", run: "trap '' TERM; echo stubborn-up; sleep 300", needs: ["base"]),
        ])
        var groups: [Int32] = []
        try await fixture.running {
            #expect(await fixture.recorder.waitForText("stubborn-up") != nil)
            #expect(await fixture.recorder.waitForText("base-up") != nil)
            let status = await fixture.supervisor.status()
            groups = status.flatMap(\.replicas).compactMap(\.pid)
            #expect(groups.count == 2)
            // base's shell plus its two background sleeps share its process group (forked before
            // the echo; /proc may list them a moment later).
            #expect(await Self.groupMembers(groups[0], atLeast: 3) >= 3)
        }
        for pgid in groups {
            #expect(ProcessControl.groupMembers(pgid).isEmpty, "process group \(pgid) still has members")
        }
        let texts = fixture.recorder.texts
        let stubbornStopped = try #require(texts.firstIndex { $0.hasPrefix("stubborn.1 stopped") })
        let baseStopped = try #require(texts.firstIndex { $0.hasPrefix("base.1 stopped") })
        #expect(stubbornStopped < baseStopped, "dependents stop first")
        #expect(texts.contains { $0.hasPrefix("stubborn.1 did not stop within 500ms of SIGTERM; sending SIGKILL") })
        #expect(texts.last == "all services stopped")
    }

    @Test func membersLeftByAStoppedLeaderGetTheGracePeriodThenSIGKILL() async throws {
        // The shell leader dies at once on SIGTERM; its background child ignores SIGTERM.
        let fixture = try SupervisorFixture([
            ServiceConfig(name: "pipeline", run: "(trap '' TERM; sleep 300) & echo pipeline-up; wait"),
        ])
        var pgid: Int32 = 0
        try await fixture.running {
            #expect(await fixture.recorder.waitForText("pipeline-up") != nil)
            pgid = try #require(await fixture.status("pipeline")?.replicas[0].pid)
            // The background child is forked before the echo, but /proc may show it a moment later.
            #expect(await Self.groupMembers(pgid, atLeast: 2) >= 2)
        }
        #expect(ProcessControl.groupMembers(pgid).isEmpty)
        let texts = fixture.recorder.texts
        #expect(texts.contains { $0.hasPrefix("pipeline.1 stopped (was killed by signal 15 (SIGTERM))") })
        #expect(texts.contains("processes pipeline.1 left behind did not stop within 500ms; sent SIGKILL"))
    }

    @Test func stopAndStartOneService() async throws {
        let fixture = try SupervisorFixture([ServiceConfig(name: "svc", run: "echo hello; exec sleep 300")])
        try await fixture.running {
            #expect(await fixture.recorder.waitForText("hello") != nil)
            let firstPid = try #require(await fixture.status("svc")?.replicas[0].pid)
            try await fixture.supervisor.perform(.stop, service: "svc")
            #expect(await fixture.recorder.wait { $0.text.hasPrefix("svc.1 stopped") } != nil)
            #expect(await fixture.status("svc")?.replicas[0].state == .stopped)
            #expect(ProcessControl.groupMembers(firstPid).isEmpty)
            try await fixture.supervisor.perform(.start, service: "svc")
            #expect(await fixture.recorder.wait { line in
                line.text.hasPrefix("svc.1 started") && !line.text.contains("pid \(firstPid),")
            } != nil)
            await #expect(throws: StackControlError.self) {
                try await fixture.supervisor.perform(.restart, service: "nope")
            }
        }
    }

    @Test func everyOutputLineArrivesWholeAndInOrder() async throws {
        let fixture = try SupervisorFixture([
            ServiceConfig(name: "chatty", run: "i=0; while [ $i -lt 2000 ]; do echo \"line $i of chatty\"; i=$((i+1)); done; echo err >&2", restart: .never),
        ])
        try await fixture.running {
            #expect(await fixture.recorder.waitForText("not restarting") != nil)
            #expect(await fixture.recorder.wait { $0.text == "line 1999 of chatty" } != nil)
            #expect(await fixture.recorder.wait { $0.text == "err" && $0.stream == .stderr } != nil)
            let lines = fixture.recorder.lines.items.filter { $0.instance == "chatty.1" && $0.stream == .stdout }.map(\.text)
            #expect(lines == (0..<2000).map { "line \($0) of chatty" })
        }
    }
}
