import DevMeshCore
import Testing

@Suite struct ConfigModelTests {
    func load(_ files: [String: String], env: [String: String] = [:], purpose: ConfigLoader.Purpose = .check) -> LoadedConfig {
        var absolute: [String: String] = [:]
        for (k, v) in files { absolute["/stack/" + k] = v }
        return ConfigLoader(files: InMemoryFiles(absolute), environment: env, purpose: purpose, workingDirectory: "/stack").load()
    }

    @Test func plainProcfileIsAWholeStack() throws {
        let loaded = load(["Procfile": "# the stack\nweb: python3 -m http.server $PORT\n\nworker:   ruby worker.rb  \n"])
        #expect(loaded.diagnostics.isEmpty)
        let config = try #require(loaded.usableConfig)
        #expect(config.services.map(\.name) == ["web", "worker"])
        #expect(config.services[1].run == "ruby worker.rb")
        #expect(config.services[0].restart == .onFailure)
        #expect(config.services[0].replicas == 1)
        #expect(config.services[1].runLocation == SourceLocation(file: "Procfile", line: 4, column: 11))
    }

    @Test func yamlAddsToProcfileServices() throws {
        let loaded = load([
            "Procfile": "users: python3 users.py\norders: python3 orders.py\n",
            "devmesh.yaml": """
                services:
                  orders:
                    port: 7103
                    needs: [users]
                    upstreams: [users]
                    health: {http: /healthz, interval: 500ms}
                    labels: {version: v2}
                  db:
                    run: postgres -p $PORT
                    protocol: none
                    restart: always
                """,
        ])
        #expect(loaded.diagnostics.isEmpty)
        let config = try #require(loaded.usableConfig)
        #expect(config.services.map(\.name) == ["users", "orders", "db"])
        let orders = try #require(config.service(named: "orders"))
        #expect(orders.run == "python3 orders.py")
        #expect(orders.port == 7103)
        #expect(orders.health == HealthCheck(probe: .http(path: "/healthz"), interval: .milliseconds(500)))
        #expect(orders.effectiveLabels == ["app": "orders", "version": "v2"])
        #expect(config.service(named: "db")?.protocol == ServiceProtocol.none)
        #expect(config.service(named: "db")?.restart == .always)
    }

    @Test func fileFlagTakesEitherFile() throws {
        let files = InMemoryFiles(["/s/Procfile": "a: ./a\n", "/s/devmesh.yaml": "services:\n  a: {port: 7000}\n"])
        for file in ["/s/Procfile", "/s/devmesh.yaml"] {
            let loaded = ConfigLoader(files: files, environment: [:], purpose: .check, workingDirectory: "/elsewhere").load(file: file)
            #expect(loaded.root == "/s")
            #expect(loaded.usableConfig?.service(named: "a")?.port == 7000)
        }
        let missing = ConfigLoader(files: files, environment: [:], purpose: .check, workingDirectory: "/s").load(file: "nope.yaml")
        #expect(missing.diagnostics.hasErrors)
    }

    @Test func unsetSecretIsAWarningAtCheckAndAnErrorAtUp() {
        let files = ["Procfile": "a: ./a\n", "devmesh.yaml": "services:\n  a:\n    env: {TOKEN: \"${MISSING_SECRET}\"}\n"]
        #expect(load(files, purpose: .check).diagnostics.map(\.severity) == [.warning])
        #expect(load(files, purpose: .up).diagnostics.map(\.severity) == [.error])
        #expect(load(files, env: ["MISSING_SECRET": "x"], purpose: .up).diagnostics.isEmpty)
    }

    @Test func secretsComeFromTheStackEnvFile() {
        let loaded = load([
            "Procfile": "a: ./a\n",
            ".env": "export TOKEN='s3cr3t'\n",
            "devmesh.yaml": "env_file: .env\nservices:\n  a:\n    env: {AUTH: \"Bearer ${TOKEN}\"}\n",
        ], purpose: .up)
        #expect(loaded.diagnostics.isEmpty)
        #expect(loaded.stackEnvFile.map(\.value) == ["s3cr3t"])
    }

    @Test func allErrorsAreReportedAtOnce() {
        let loaded = load([
            "Procfile": "Bad_Name: x\nok: \n",
            "devmesh.yaml": "services:\n  other:\n    port: 0\n    needs: [ghost]\nunknown: 1\n",
        ])
        #expect(loaded.diagnostics.errors.count >= 5)
    }

    @Test func dependencyGraph() {
        let services = [
            ServiceConfig(name: "frontend", run: "x", needs: ["orders"]),
            ServiceConfig(name: "orders", run: "x", needs: ["users", "inventory"]),
            ServiceConfig(name: "users", run: "x"),
            ServiceConfig(name: "inventory", run: "x"),
            ServiceConfig(name: "worker", run: "x"),
        ]
        let graph = DependencyGraph(services)
        #expect(graph.startOrder() == ["users", "inventory", "worker", "orders", "frontend"])
        #expect(graph.cycles().isEmpty)
        #expect(graph.closure(of: ["orders"]) == ["orders", "users", "inventory"])
        let cyclic = DependencyGraph([
            ServiceConfig(name: "a", run: "x", needs: ["b"]), ServiceConfig(name: "b", run: "x", needs: ["a"]),
        ])
        #expect(cyclic.cycles() == [["a", "b"]])
    }

    @Test func durations() {
        #expect(DurationParser.parse("500ms") == .milliseconds(500))
        #expect(DurationParser.parse("1m30s") == .seconds(90))
        #expect(DurationParser.parse("1.5s") == .milliseconds(1500))
        #expect(DurationParser.parse("2h") == .seconds(7200))
        #expect(DurationParser.parse("7d") == .seconds(7 * 86_400))
        for bad in ["", "2", "s", "2 s", "-1s", "1w", "1e3s"] { #expect(DurationParser.parse(bad) == nil, "\(bad)") }
        #expect(DurationParser.format(.milliseconds(1500)) == "1500ms")
        #expect(DurationParser.format(.seconds(120)) == "2m")
    }

    @Test func names() {
        #expect(ServiceName.isValid("users-v2"))
        for bad in ["Users", "users_v2", "-a", "a-", "", String(repeating: "a", count: 64), "a.b"] {
            #expect(!ServiceName.isValid(bad), "\(bad)")
        }
        #expect(ServiceName.suggestion(for: "My_Service.API") == "my-service-api")
        #expect(ServiceName.urlVariable(for: "user-store") == "USER_STORE_URL")
        #expect(Suggestion.closest(to: "helth", in: ["health", "port"]) == "health")
        #expect(Suggestion.closest(to: "zzz", in: ["health", "port"]) == nil)
    }

    @Test func dotEnv() {
        let (vars, diagnostics) = DotEnv.parse("A=1\nexport B = two # note\nC=\"line\\nnext\"\nD='# not a comment'\n# c\n", file: ".env")
        #expect(diagnostics.isEmpty)
        #expect(vars.map(\.name) == ["A", "B", "C", "D"])
        #expect(vars.map(\.value) == ["1", "two", "line\nnext", "# not a comment"])
    }

    @Test func secretExpansion() throws {
        let lookup: (String) -> String? = { ["A": "1", "B": "two"][$0] }
        #expect(try SecretExpansion.expand("x${A}-${B}$$y $HOME", lookup: lookup).get() == "x1-two$y $HOME")
        guard case .failure(let errors) = SecretExpansion.expand("${C} ${A", lookup: lookup) else {
            Issue.record("expected failure")
            return
        }
        #expect(errors.failures == [.unset("C"), .unterminated])
    }

    @Test func processEnvironment() throws {
        let service = ServiceConfig(
            name: "orders", run: "x", env: [EnvVar(name: "AUTH", value: "Bearer ${TOKEN}"), EnvVar(name: "OTEL_SERVICE_NAME", value: "custom")],
            upstreams: ["users"])
        let builder = ProcessEnvironment(
            inherited: ["PATH": "/bin", "PORT": "1"], stackEnvFile: [EnvVar(name: "TOKEN", value: "t0k")],
            serviceEnvFiles: ["orders": [EnvVar(name: "FROM_FILE", value: "yes")]])
        let env = try builder.build(service: service, replica: 2, port: 5000, upstreamURLs: ["users": "http://127.0.0.1:7101"])
        #expect(env["PORT"] == "5000")
        #expect(env["PATH"] == "/bin")
        #expect(env["DEVMESH_SERVICE"] == "orders")
        #expect(env["DEVMESH_REPLICA"] == "2")
        #expect(env["USERS_URL"] == "http://127.0.0.1:7101")
        #expect(env["AUTH"] == "Bearer t0k")
        #expect(env["FROM_FILE"] == "yes")
        #expect(env["OTEL_SERVICE_NAME"] == "custom")
        #expect(env["OTEL_RESOURCE_ATTRIBUTES"] == "service.instance.id=orders.2")
        #expect(ProcessEnvironment.expandPort(in: "serve --port $PORT --x ${PORT} $PORTAL", port: 80) == "serve --port 80 --x 80 $PORTAL")
    }
}

@Suite struct LineEndingTests {
    @Test func windowsLineEndingsAreLinesToo() throws {
        let (procfile, diagnostics) = Procfile.parse("web: python3 app.py\r\nworker: python3 w.py\r\n\r\n", file: "Procfile")
        #expect(diagnostics.isEmpty)
        #expect(procfile.entries.map(\.name) == ["web", "worker"])
        #expect(procfile.entries.map(\.command) == ["python3 app.py", "python3 w.py"])
        let (vars, _) = DotEnv.parse("A=1\r\nB=2\r\n", file: ".env")
        #expect(vars.map(\.value) == ["1", "2"])
        let loaded = ConfigLoader(
            files: InMemoryFiles(["/s/devmesh.yaml": "services:\r\n  web:\r\n    run: x\r\n    port: nope\r\n"]),
            environment: [:], purpose: .check, workingDirectory: "/s").load()
        let d = try #require(loaded.diagnostics.first)
        #expect(d.location == SourceLocation(file: "devmesh.yaml", line: 4, column: 11))
        #expect(DiagnosticRenderer(sources: loaded.sources).render(d).contains("    port: nope\n"))
    }
}

@Suite struct SidecarConfigTests {
    @Test func balancerTimeoutsAndRetriesAreRead() throws {
        let loaded = ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": """
            services:
              api:
                run: ./api
                balancer: round-robin
                timeouts: {connect: 500ms, request: 5s, idle: 2m}
                retries: {attempts: 0, budget: 10%}
              bad:
                run: ./bad
                balancer: random
                timeouts: {connect: 5, dial: 1s}
                retries: {budget: 150%}
            """]), environment: [:], purpose: .check, workingDirectory: "/s").load()
        let api = try #require(loaded.config?.service(named: "api"))
        #expect(api.balancer == .roundRobin)
        #expect(api.timeouts.connect == .milliseconds(500))
        #expect(api.timeouts.request == .seconds(5))
        #expect(api.timeouts.idle == .seconds(120))
        #expect(api.retries.attempts == 0)
        #expect(api.retries.budget == 0.1)
        let messages = loaded.diagnostics.map(\.message)
        #expect(messages.contains { $0.contains("`balancer` of service `bad` must be one of p2c-ewma | round-robin") })
        #expect(messages.contains { $0.contains("a number needs a unit") })
        #expect(messages.contains { $0.contains("unknown key `dial`") })
        #expect(messages.contains { $0.contains("share such as 20%") })
        #expect(loaded.diagnostics.errors.count == 4)
    }
}

@Suite struct RecordingConfigTests {
    @Test func recordingReplayAndPerRouteSwitchesAreRead() throws {
        let loaded = ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": """
            services:
              api: {run: ./api, record: true, redact: false}
              web: {run: ./web}
            gateway:
              routes:
                - {path: /local, to: api, record: true, redact: false}
                - {path: /, to: web, record: false}
            recording: {max_body: 256KiB, redact_headers: [X-Session], redact_fields: [ssn], redact_query: [sig]}
            replay:
              auth: {bearer: "${TOKEN}", headers: {X-Api-Key: "${KEY}"}}
              ignore: [$.at, "re:^\\\\$\\\\.debug"]
              ignore_headers: [X-Cache]
            """]), environment: ["TOKEN": "t"], purpose: .up, workingDirectory: "/s").load()
        let config = try #require(loaded.config)
        #expect(config.service(named: "api")?.record == true && config.service(named: "api")?.redact == false)
        #expect(config.service(named: "web")?.record == false && config.service(named: "web")?.redact == true)
        #expect(config.gateway.routes.map(\.record) == [true, false])
        #expect(config.gateway.routes.map(\.redact) == [false, true])
        #expect(config.recording == RecordingConfig(maxBody: 256 * 1024, redactHeaders: ["X-Session"], redactFields: ["ssn"], redactQuery: ["sig"]))
        #expect(config.replay.bearer == "${TOKEN}")
        #expect(config.replay.headers.map(\.name) == ["X-Api-Key"])
        #expect(config.replay.ignore == ["$.at", "re:^\\$\\.debug"])
        #expect(config.replay.ignoreHeaders == ["X-Cache"])
        // An unset replay secret does not stop `up`: it is needed by `replay`, and only warned about.
        #expect(!loaded.diagnostics.hasErrors, "\(loaded.diagnostics.map(\.message))")
        #expect(loaded.diagnostics.contains { $0.message.contains("${KEY}") && $0.severity == .warning })
    }

    @Test func badRecordingKeysAreErrors() {
        let loaded = ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": """
            services:
              api: {run: ./api, record: yes-please}
            recording: {max_body: 1GB, redact: [x]}
            replay: {auth: {token: x}}
            """]), environment: [:], purpose: .check, workingDirectory: "/s").load()
        let messages = loaded.diagnostics.map(\.message)
        #expect(messages.contains { $0.contains("`record` of service `api`") }, "\(messages)")
        #expect(messages.contains { $0.contains("`recording.max_body` must be at most 64MiB") }, "\(messages)")
        #expect(messages.contains { $0.contains("unknown key `redact`") }, "\(messages)")
        #expect(messages.contains { $0.contains("unknown key `token`") }, "\(messages)")
    }
}
