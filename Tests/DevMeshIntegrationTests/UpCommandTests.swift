import DevMeshCore
import DevMeshSupervisor
import DevMeshTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized, .timeLimit(.minutes(3))) struct UpCommandTests {
    static let envStack: [String: String] = [
        "app.py": httpAppPy,
        "Procfile": """
            api: python3 -u app.py
            caller: echo "PORT=$PORT SVC=$DEVMESH_SERVICE REPLICA=$DEVMESH_REPLICA API=$API_URL TOKEN=$TOKEN LEVEL=$LEVEL OTEL=$OTEL_RESOURCE_ATTRIBUTES PROXY=$HTTP_PROXY NOPROXY=$NO_PROXY"; exec sleep 300

            """,
        ".env": "SECRET=from-env-file\n",
        "devmesh.yaml": """
            env_file: .env
            services:
              api:
                health: {http: /healthz}
              caller:
                needs: [api]
                upstreams: [api]
                env: {TOKEN: "t-${SECRET}", LEVEL: debug}
                egress_proxy: true

            """,
    ]

    @Test func upInjectsPortAndEnvironmentAndDownStopsEverything() async throws {
        let stack = try TempStack(Self.envStack)
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 2 services are ready"))
        #expect(await up.waitFor("caller.1 | PORT="))
        let state = try #require(stack.state)
        let apiPort = try #require(state.ports.replicas["api.1"])
        let callerPort = try #require(state.ports.replicas["caller.1"])
        // API_URL is the caller's own egress listener for api, not api's app.
        let egressPort = try #require(state.ports.egress["caller->api"])
        let line = try #require(up.output.first { $0.contains("caller.1 | PORT=") })
        let proxyPort = try #require(state.ports.egress["caller->*"])
        #expect(line.hasSuffix("PORT=\(callerPort) SVC=caller REPLICA=1 API=http://127.0.0.1:\(egressPort) TOKEN=t-from-env-file LEVEL=debug OTEL=service.instance.id=caller.1 PROXY=http://127.0.0.1:\(proxyPort) NOPROXY=127.0.0.1,localhost,::1"))
        let byName = try await RawHTTPClient.exchange(
            port: proxyPort, "GET http://api/by-name HTTP/1.1\r\nHost: api\r\n\r\n", until: RawHTTPClient.responses(1))
        #expect(byName.text.hasSuffix("api /by-name"), "egress_proxy reaches a service by name")
        let viaEgress = try String(contentsOf: URL(string: "http://127.0.0.1:\(egressPort)/through-egress")!, encoding: .utf8)
        #expect(viaEgress == "api /through-egress")
        #expect(state.pid == up.pid)
        #expect(state.children.count == 2)
        let mode = try FileManager.default.attributesOfItem(atPath: stack.root + "/.devmesh/state.json")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // The app really listens on its $PORT.
        let body = try String(contentsOf: URL(string: "http://127.0.0.1:\(apiPort)/hello")!, encoding: .utf8)
        #expect(body == "api /hello")

        let status = try await DevMeshBinary.runDetached(["status", "--json"], in: stack.root)
        #expect(status.code == 0)
        let decoded = try JSONDecoder().decode(StackStatus.self, from: Data(status.stdout.utf8))
        #expect(decoded.services.map(\.name) == ["api", "caller"])
        #expect(decoded.services[0].replicas[0].health == "healthy")
        #expect(decoded.services[1].replicas[0].state == .running)
        let pids = decoded.services.flatMap(\.replicas).compactMap(\.pid)
        #expect(pids.count == 2)
        #expect(decoded.telemetry?.dropped == 0, "telemetry counters are reported and nothing was dropped")

        let table = try await DevMeshBinary.runDetached(["status"], in: stack.root)
        #expect(table.stdout.contains("api.1"))
        #expect(table.stdout.contains("healthy"))

        let down = try await DevMeshBinary.runDetached(["down"], in: stack.root)
        #expect(down.code == 0, "\(down.stderr)")
        #expect(await up.exitCode() == 0)
        for pid in pids { #expect(!ProcessControl.isAlive(pid), "pid \(pid) survived `devmesh down`") }
        #expect(stack.state == nil, "state.json is removed on a clean stop")
    }

    @Test func secondUpInTheSameFolderIsRefused() async throws {
        let stack = try TempStack(["Procfile": "sleeper: exec sleep 300\n"])
        let first = try RunningUp(in: stack.root)
        #expect(await first.waitFor("sleeper.1 started"))
        let second = try RunningUp(in: stack.root)
        #expect(await second.exitCode() == 1)
        #expect(second.output.contains { $0.contains("this stack is already running (pid \(first.pid)") })
        first.signal(SIGINT)
        #expect(await first.exitCode() == 0)
    }

    @Test func sigintStopsEveryChild() async throws {
        let stack = try TempStack(["Procfile": "a: sleep 300 & sleep 300 & wait\nb: exec sleep 300\n"])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 2 services are ready"))
        let children = try #require(stack.state?.children)
        #expect(children.count == 2)
        up.signal(SIGINT)
        #expect(await up.exitCode() == 0)
        #expect(up.output.contains { $0.contains("all services stopped") })
        for child in children { #expect(ProcessControl.groupMembers(child.pid).isEmpty) }
    }

    @Test func nextUpCleansUpAfterAKilledDevmesh() async throws {
        let stack = try TempStack(["Procfile": "a: exec sleep 300\nb: sleep 300 & exec sleep 301\n"])
        let killed = try RunningUp(in: stack.root)
        #expect(await killed.waitFor("all 2 services are ready"))
        let children = try #require(await stack.state(where: { $0.children.count == 2 })?.children)
        #expect(children.count == 2)
        killed.signal(SIGKILL)
        #expect(await killed.exitCode() != nil)
        // SIGKILL leaves the children running, orphaned.
        for child in children { #expect(ProcessControl.isAlive(child.pid)) }

        let next = try RunningUp(in: stack.root)
        #expect(await next.waitFor("left running by a previous devmesh that did not shut down: a.1, b.1"))
        for child in children { #expect(ProcessControl.groupMembers(child.pid).isEmpty, "leftover \(child.instance) still running") }
        #expect(await next.waitFor("all 2 services are ready"))
        next.signal(SIGTERM)
        #expect(await next.exitCode() == 0)
    }

    @Test func leftoversWhoseLeaderDiedAreFoundThroughTheirGroup() async throws {
        // The leader keeps writing to its stdout: once devmesh is killed, the pipe breaks and the
        // leader dies of SIGPIPE, while its helper (output elsewhere) keeps running in the group.
        let stack = try TempStack(["Procfile": "w: sleep 300 >/dev/null 2>&1 & while echo tick; do sleep 0.05; done\n"])
        let killed = try RunningUp(in: stack.root)
        #expect(await killed.waitFor("| tick"))
        let leader = try #require(await stack.state(where: { !$0.children.isEmpty })?.children.first?.pid)
        killed.signal(SIGKILL)
        #expect(await killed.exitCode() != nil)
        let helpers = Observed<Bool>()
        // The leader's death is not ours to wait for (it is not our child): watch /proc for it.
        Thread.detachNewThread {
            let deadline = Date().addingTimeInterval(10)
            while ProcessControl.isAlive(leader), Date() < deadline { usleep(10_000) }
            helpers.append(!ProcessControl.isAlive(leader))
        }
        #expect(await helpers.first { _ in true } == true, "the leader should have died of SIGPIPE")
        #expect(ProcessControl.groupMembers(leader).count == 1, "its helper is still running")

        let next = try RunningUp(in: stack.root)
        #expect(await next.waitFor("left running by a previous devmesh that did not shut down: w.1"))
        #expect(ProcessControl.groupMembers(leader).isEmpty)
        #expect(await next.waitFor("all 1 service is ready"))
        next.signal(SIGTERM)
        #expect(await next.exitCode() == 0)
    }

    @Test func upWithServiceNamesStartsOnlyThoseAndWhatTheyNeed() async throws {
        let stack = try TempStack([
            "Procfile": "db: exec sleep 300\napi: exec sleep 300\nworker: exec sleep 300\n",
            "devmesh.yaml": "services:\n  api:\n    needs: [db]\n",
        ])
        let up = try RunningUp(["api"], in: stack.root)
        #expect(await up.waitFor("all 2 services are ready"))
        #expect(!up.output.contains { $0.contains("worker.1") })
        let restart = try await DevMeshBinary.runDetached(["restart", "db"], in: stack.root)
        #expect(restart.code == 0)
        #expect(await up.waitFor("db.1 stopped"))
        let unknown = try await DevMeshBinary.runDetached(["restart", "worker"], in: stack.root)
        #expect(unknown.code == 1)
        #expect(unknown.stderr.contains("no service `worker`"))
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)

        let typo = try RunningUp(["apii"], in: stack.root)
        #expect(await typo.exitCode() == 1)
        #expect(typo.output.contains { $0.contains("did you mean `api`?") })
    }

    @Test func upRefusesABadConfigAndCheckExplainsIt() async throws {
        let stack = try TempStack(["Procfile": "web: ./web\n", "devmesh.yaml": "services:\n  web:\n    needs: [ghost]\n"])
        let up = try RunningUp(in: stack.root)
        #expect(await up.exitCode() == 1)
        #expect(up.output.contains { $0.contains("devmesh.yaml:3:13: error: service `web` needs `ghost`") })
        let check = try await DevMeshBinary.runDetached(["check"], in: stack.root)
        #expect(check.code == 1)
        #expect(check.stdout.contains("devmesh.yaml:3:13: error"))
        let json = try await DevMeshBinary.runDetached(["check", "--json"], in: stack.root)
        #expect(json.code == 1)
        #expect(json.stdout.contains("\"severity\" : \"error\""))
        let ok = try await DevMeshBinary.runDetached(["check", "-f", stack.root + "/Procfile"], in: "/")
        #expect(ok.code == 1)
    }

    @Test func commandsWithoutARunningStackSaySo() async throws {
        let stack = try TempStack(["Procfile": "web: ./web\n"])
        let status = try await DevMeshBinary.runDetached(["status"], in: stack.root)
        #expect(status.code == 1)
        #expect(status.stderr.contains("no devmesh stack is running"))
        let version = try await DevMeshBinary.runDetached(["version"], in: stack.root)
        #expect(version.stdout.hasPrefix("devmesh 0.1.0 (commit "))
    }

    @Test func adminAPIRefusesForeignHostsAndTokenlessChanges() async throws {
        let stack = try TempStack(["Procfile": "web: exec sleep 300\n"])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("web.1 started"))
        let state = try #require(stack.state)
        func request(_ method: String, _ path: String, host: String? = nil, token: String? = nil) async throws -> Int {
            var r = URLRequest(url: URL(string: state.adminURL + path)!)
            r.httpMethod = method
            if let host { r.setValue(host, forHTTPHeaderField: "Host") }
            if let token { r.setValue(token, forHTTPHeaderField: "X-Devmesh-Token") }
            return try await withCheckedThrowingContinuation { c in
                URLSession.shared.dataTask(with: r) { _, response, error in
                    if let error { c.resume(throwing: error) } else { c.resume(returning: (response as? HTTPURLResponse)?.statusCode ?? 0) }
                }.resume()
            }
        }
        #expect(try await request("GET", "/api/v1/status") == 200)
        #expect(try await request("GET", "/api/v1/status", host: "evil.example") == 421)
        #expect(try await request("POST", "/api/v1/shutdown") == 403)
        #expect(try await request("POST", "/api/v1/shutdown", token: "wrong") == 403)
        #expect(try await request("POST", "/api/v1/services/web/restart", token: state.token) == 202)
        #expect(await up.waitFor("web.1 stopped"))
        #expect(try await request("POST", "/api/v1/shutdown", token: state.token) == 202)
        #expect(await up.exitCode() == 0)
    }
}
