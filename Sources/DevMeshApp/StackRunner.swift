import DevMeshAPI
import DevMeshCore
import DevMeshPolicy
import DevMeshRecord
import DevMeshStore
import DevMeshSupervisor
import DevMeshTLS
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `devmesh up`: load, lock, clean up leftovers, plan ports, then run the admin API and the
/// supervisor in one `ServiceGroup` until a signal or `devmesh down`.
public struct StackRunner: Sendable {
    public struct Options: Sendable {
        public var file: String?
        public var services: [String] = []
        public var adminPort: Int?
        public var timestamps = false
        public var color: Bool?
        public var workingDirectory: String
        public var environment: [String: String]
        public var tuning = RestartTuning()
        /// Print one line per proxied request.
        public var accessLog = false
        /// Record spans and access records (off only to measure what telemetry costs).
        public var telemetry = true
        /// `--https-port` / `--http-port`: the gateway's ports.
        public var httpsPort: Int?
        public var httpPort: Int?
        /// `--otlp-port`: OTLP/HTTP ingest.
        public var otlpPort: Int?

        public init(file: String?, workingDirectory: String, environment: [String: String]) {
            self.file = file
            self.workingDirectory = workingDirectory
            self.environment = environment
        }
    }

    /// A reason not to start, printed as `devmesh: …` with a hint.
    struct Refusal: Error {
        var message: String
        var hint: String?
    }

    public var options: Options

    public init(options: Options) {
        self.options = options
    }

    /// Runs the stack in the foreground; returns the process exit code.
    public func run() async -> Int32 {
        let loader = ConfigLoader(files: LocalFiles(), environment: options.environment, purpose: .up,
                                  workingDirectory: options.workingDirectory)
        let loaded = loader.load(file: options.file, root: options.file == nil
            ? StackLocator.root(file: nil, workingDirectory: options.workingDirectory) : nil)
        let renderer = DiagnosticRenderer(sources: loaded.sources, useColor: Terminal.wantsColor(fd: 2))
        if !loaded.diagnostics.isEmpty {
            Terminal.printError(renderer.render(loaded.diagnostics))
        }
        guard let config = loaded.usableConfig, let root = loaded.root else {
            Terminal.printError("devmesh: not starting; fix the errors above (`devmesh check` shows them again)")
            return 1
        }
        do {
            let services = try StackPlanner.select(options.services, from: config)
            // One `up` per stack: the lock is held until this process ends.
            let directory = StateDirectory(root: root)
            let lockFD = try acquireLock(directory)
            defer { close(lockFD) }
            let store = try openStore(directory: directory, config: config, stackEnvFile: loaded.stackEnvFile)
            let output = LogOutput(formatter: LogFormatter(
                instances: services.flatMap(\.instanceIDs), services: services.map(\.name),
                useColor: options.color ?? Terminal.wantsColor(fd: 1),
                timestamps: options.timestamps, utcOffset: Terminal.utcOffset), sink: store)
            let code: Int32
            do {
                code = try await runLocked(config: config, loaded: loaded, services: services, directory: directory,
                                           output: output, store: store)
            } catch {
                await output.finish()
                await store.finish()
                throw error
            }
            await output.finish()
            await store.finish()
            return code
        } catch let refusal as Refusal {
            Terminal.printError("devmesh: \(refusal.message)" + (refusal.hint.map { "\n  hint: \($0)" } ?? ""))
            return 1
        } catch let failure as StackPlanner.Failure {
            Terminal.printError("devmesh: \(failure.description)" + (failure.hint.map { "\n  hint: \($0)" } ?? ""))
            return 1
        } catch {
            Terminal.printError("devmesh: \(error)")
            return 1
        }
    }

    private func acquireLock(_ directory: StateDirectory) throws -> Int32 {
        do {
            return try directory.acquireLock()
        } catch StateDirectory.LockError.alreadyRunning(let state) {
            var message = "this stack is already running"
            if let state { message += " (pid \(state.pid), admin \(state.adminURL))" }
            throw Refusal(message: message, hint: "use that one, or stop it first with `devmesh down`")
        }
    }

    /// `.devmesh/devmesh.db` and its writer: every log line, span and OTLP request of this run.
    private func openStore(directory: StateDirectory, config: StackConfig, stackEnvFile: [EnvVar]) throws -> TelemetryWriter {
        let path = directory.path + "/devmesh.db"
        // Before the store opens: without the key nothing could be recorded safely.
        let redactor = try MeshRecording.redactor(config: config, environment: options.environment)
        do {
            let database = try TelemetryDatabase.open(path: path)
            var writerOptions = TelemetryWriter.Options()
            writerOptions.retention = TelemetryRetention(config.telemetry)
            // Every recording, wherever it is made, hides the credentials the ambassadors inject.
            let environment = options.environment
            let injected = ExternalMesh.injectedValues(config.externals) { name in
                environment[name] ?? stackEnvFile.last(where: { $0.name == name })?.value
            }
            writerOptions.finisher = RecordingFinisher(redactor: redactor, maxBody: config.recording.maxBody, knownSecrets: injected)
            // Room for a few captures of the largest size waiting for the writer, at least 32 MiB.
            writerOptions.captureCapacity = max(32 << 20, 4 * 2 * config.recording.maxBody)
            writerOptions.version = BuildInfo.version
            writerOptions.root = config.root
            return try TelemetryWriter(database: database, options: writerOptions)
        } catch {
            throw Refusal(message: "\(error)",
                          hint: "if the file is damaged, move it away (`mv \(path) \(path).broken`); devmesh creates a new one")
        }
    }

    private func runLocked(config: StackConfig, loaded: LoadedConfig, services: [ServiceConfig],
                           directory: StateDirectory, output: LogOutput, store: TelemetryWriter) async throws -> Int32 {
        let leftovers = directory.cleanUpLeftovers()
        if !leftovers.isEmpty {
            output.announce("stopped \(leftovers.count) process group\(leftovers.count == 1 ? "" : "s") left running by a previous devmesh that did not shut down: \(leftovers.joined(separator: ", "))", severity: .warning)
        }

        // Explicit service ports are the user's; the admin API must not take one of them.
        let servicePorts = Set(services.compactMap(\.port))
        let explicitAdmin = options.adminPort ?? config.admin.port
        var adminPort = try chooseAdminPort(explicit: explicitAdmin, avoiding: servicePorts, output: output)
        // The local CA (shared by the user's stacks): created on first use; its trust goes to every child.
        let authority = try loadAuthority()
        var planner = StackPlanner(loaded: loaded, environment: options.environment)
        planner.gatewayPortOverrides = (options.httpsPort, options.httpPort)
        planner.otlpPortOverride = options.otlpPort
        let bundle = CABundle.path(caDirectory: (authority.certificatePath as NSString).deletingLastPathComponent)
        do {
            _ = try CABundle.update(ca: authority, bundlePath: bundle)
            planner.trustEnvironment = Dictionary(CABundle.trustEnvironment(ca: authority, bundlePath: bundle), uniquingKeysWith: { a, _ in a })
        } catch {
            output.announce("could not write the CA bundle for child services (\(error)); they will not trust the devmesh CA", severity: .warning)
        }
        let plan = try planner.plan(services: services, reserved: [adminPort])
        for notice in plan.notices { output.announce(notice) }
        var security: MeshSecurity?
        if plan.gateway != nil || config.mtls != .off {
            do {
                security = try await MeshSecurity.make(services: services, externals: config.externals, gateway: plan.gateway, mode: config.mtls,
                                                       store: CertificateStore(authority: authority))
            } catch {
                throw Refusal(message: "could not issue the stack's certificates: \(error)",
                              hint: "check the CA in \((authority.certificatePath as NSString).deletingLastPathComponent) (`devmesh ca show`)")
            }
        }

        // Authorization policies: enforced by the inbound sidecars. A policy file with errors stops
        // `up` (a DENY that did not load would fail open); `devmesh check` lists them all.
        var policies: MeshPolicies?
        if !config.policies.isEmpty {
            let files = PolicyFiles.load(config.policies, root: config.root)
            if let first = files.diagnostics.first(where: { $0.severity == .error }) {
                let at = first.location.map { "\($0.file):\($0.line):\($0.column): " } ?? ""
                throw Refusal(message: "the authorization policies have errors; first: \(at)\(first.message)",
                              hint: "`devmesh check` (or `devmesh policy lint`) lists them all")
            }
            let workspace = PolicyWorkspace(config: config, documents: files.documents)
            let mesh = MeshPolicies(config: config, workspace: workspace)
            let warnings = await JWKSFetcher(root: config.root).load(workspace.authentications, into: mesh.keys)
            mesh.setKeyWarnings(warnings)
            policies = mesh
            let count = workspace.engine.policies.count
            let jwt = workspace.authentications.count
            output.announce("policies   \(count) authorization polic\(count == 1 ? "y" : "ies")"
                + (jwt > 0 ? " and \(jwt) RequestAuthentication\(jwt == 1 ? "" : "s")" : "")
                + " enforced by the sidecars and the gateway (\(config.policyNormalization.rawValue) path normalisation; files reload live)")
            for warning in warnings { output.announce("policies   \(warning)", severity: .warning) }
        }

        // Another devmesh may take the default admin port between our check and our bind: then
        // nothing has started yet (the supervisor waits for the admin listener) and we try again.
        for attempt in 1...3 {
            switch try await runStack(config: config, plan: plan, directory: directory, output: output, adminPort: adminPort,
                                      security: security, policies: policies, store: store, stackEnvFile: loaded.stackEnvFile) {
            case .finished(let code):
                return code
            case .adminPortTaken where explicitAdmin == nil && attempt < 3:
                let used = servicePorts.union(plan.supervision.replicas.map(\.port)).union(plan.listeners.map(\.port))
                let next = try PortAllocator.freePorts(1, excluding: used)[0]
                output.announce("admin port \(adminPort) was taken at the last moment; using \(next)")
                adminPort = next
            case .adminPortTaken:
                throw Refusal(message: "admin port \(adminPort) is taken by another process",
                              hint: "free it, or choose another with `--admin-port` or `admin.port`")
            }
        }
        return 1
    }

    /// The user's CA (created on first use): every child trusts it (PRODUCT.md), and the gateway
    /// and mTLS issue their certificates from it.
    private func loadAuthority() throws -> CertificateAuthority {
        let directory = DevMeshHome.caDirectory(home: DevMeshHome.resolve(environment: options.environment))
        do {
            return try CertificateAuthority.loadOrCreate(directory: directory)
        } catch {
            throw Refusal(message: "the local CA in \(directory) cannot be used: \(error)",
                          hint: "`devmesh ca show` tells more; set DEVMESH_HOME to use another folder")
        }
    }

    private func chooseAdminPort(explicit: Int?, avoiding servicePorts: Set<Int>, output: LogOutput) throws -> Int {
        if let explicit {
            if servicePorts.contains(explicit) {
                throw Refusal(message: "admin port \(explicit) is also the `port:` of a service",
                              hint: "choose another admin port with `--admin-port` or `admin.port`")
            }
            guard PortAllocator.isFree(explicit) else {
                throw Refusal(message: "admin port \(explicit) is taken by another process",
                              hint: "free it, or choose another with `--admin-port` or `admin.port`")
            }
            return explicit
        }
        if !servicePorts.contains(AdminConfig.defaultPort), PortAllocator.isFree(AdminConfig.defaultPort) {
            return AdminConfig.defaultPort
        }
        let port = try PortAllocator.freePorts(1, excluding: servicePorts)[0]
        output.announce("port \(AdminConfig.defaultPort) is taken; the admin API uses port \(port) instead")
        return port
    }

    enum Outcome {
        case finished(Int32)
        case adminPortTaken
    }

    private func runStack(config: StackConfig, plan meshPlan: MeshPlan, directory: StateDirectory,
                          output: LogOutput, adminPort: Int, security: MeshSecurity?, policies: MeshPolicies?,
                          store: TelemetryWriter, stackEnvFile: [EnvVar]) async throws -> Outcome {
        var planned = meshPlan
        // OTLP ingest listens before any app starts (apps get its URL). A default port taken since
        // planning moves to a free one, and the apps' environment follows.
        let ingest: OTLPIngestServer
        do {
            ingest = try await OTLPIngestServer.start(port: planned.otlpPort, fallbackToFreePort: !planned.otlpPortIsExplicit,
                                                      store: store, group: MultiThreadedEventLoopGroup.singleton)
        } catch {
            throw Refusal(message: "cannot listen for OTLP on 127.0.0.1:\(planned.otlpPort): \(error)",
                          hint: "free the port, or choose another with `--otlp-port` or `telemetry.otlp_port`")
        }
        if ingest.port != planned.otlpPort {
            output.announce("port \(planned.otlpPort) was taken at the last moment; OTLP ingest is on port \(ingest.port)")
            planned.moveOTLP(to: ingest.port)
        }
        let exporter = config.telemetry.otlpExport.flatMap(OTLPEndpoint.init).map { OTLPExporter(endpoint: $0) }
        if let exporter {
            store.setCommitObserver { spans, logs in exporter.enqueue(spans: spans, logs: logs) }
        }
        defer {
            store.setCommitObserver(nil)
        }
        let plan = planned.supervision
        let startedAt = WallClock.system.now()
        let adminURL = "http://127.0.0.1:\(adminPort)"
        let state = StackState(
            pid: getpid(), pidStartTime: ProcessControl.startTime(of: getpid()), root: config.root,
            startedAt: startedAt, token: Self.makeToken(),
            ports: .init(admin: adminPort, services: plan.servicePorts,
                         replicas: Dictionary(plan.replicas.map { ($0.instanceID, $0.port) }, uniquingKeysWith: { a, _ in a }),
                         inbound: planned.inboundPorts, egress: planned.egressPorts,
                         gateway: planned.gateway.map { ["https": $0.httpsPort, "http": $0.httpPort] }, otlp: ingest.port))
        let writer = StateWriter(directory: directory, initial: state)
        try writer.write()
        defer { directory.removeState() }

        // The sidecars listen before any app starts, so every URL an app is given works.
        var sink: any TelemetrySink = options.telemetry ? store : NullTelemetrySink()
        if options.accessLog { sink = AccessLogPrinter(next: sink, output: output) }
        var gatewayPlan = planned.gateway
        let gatewayAuth = GatewayAuth.load(config, authentications: policies?.workspace.authentications)
        if gatewayAuth.diagnostics.hasErrors {
            Terminal.printError(DiagnosticRenderer(sources: gatewayAuth.sources, useColor: Terminal.wantsColor(fd: 2)).render(gatewayAuth.diagnostics))
            throw Refusal(message: "the gateway routes' `auth` has errors", hint: "fix them; `devmesh check` shows them again")
        }
        // Ambassadors of externals (docs/externals.md): behind their inbound sidecars, like apps.
        let externals: ExternalMesh
        do {
            let environment = options.environment, envFile = stackEnvFile
            let finisher = RecordingFinisher(redactor: try MeshRecording.redactor(config: config, environment: environment),
                                             maxBody: config.recording.maxBody)
            externals = try ExternalMesh.make(
                config: config, plan: planned, secrets: { name in environment[name] ?? envFile.last(where: { $0.name == name })?.value },
                telemetry: sink, database: options.telemetry ? store.database : nil, finisher: finisher)
            try await externals.start(group: MultiThreadedEventLoopGroup.singleton)
        } catch {
            await ingest.stop()
            await exporter?.finish()
            throw error
        }
        let mesh = SidecarMesh(plan: planned, telemetry: sink, group: MultiThreadedEventLoopGroup.singleton, security: security,
                               policies: policies, recording: MeshRecording(config: config), routeAuth: gatewayAuth.routing(policies: policies),
                               connectGuards: Dictionary(externals.ambassadors.map { a in
                                   (a.config.workload, { @Sendable in a.tunnelRefusal() })
                               }, uniquingKeysWith: { first, _ in first }))
        do {
            try await mesh.start()
        } catch {
            await externals.stop()
            await ingest.stop()
            await exporter?.finish()
            throw error
        }
        // A default gateway port taken by another process at the last moment moved to a free one.
        if var gateway = gatewayPlan {
            let bound = mesh.gatewayPorts
            if let https = bound.https, https != gateway.httpsPort {
                output.announce("port \(gateway.httpsPort) was taken at the last moment; the gateway's HTTPS port is \(https)")
                gateway.httpsPort = https
            }
            if let http = bound.http, http != gateway.httpPort {
                output.announce("port \(gateway.httpPort) was taken at the last moment; the gateway's HTTP port is \(http)")
                gateway.httpPort = http
            }
            gatewayPlan = gateway
            writer.update(gatewayPorts: ["https": gateway.httpsPort, "http": gateway.httpPort])
            mesh.docs.set(GatewayDocs.pages(GatewayDocs.load(config, httpsPort: gateway.httpsPort),
                                            stack: URL(fileURLWithPath: config.root).lastPathComponent))
        }

        // Log pipes get their own loop: a slow terminal slows log reading, nothing else.
        let logGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let adminListening = AsyncGate()
        let supervisor = Supervisor(
            plan: plan, tuning: options.tuning, output: output,
            probeGroup: MultiThreadedEventLoopGroup.singleton, logGroup: logGroup,
            hooks: .init(childrenChanged: { writer.update(children: $0) }, readyChanged: { mesh.readyChanged($0) }),
            startGate: adminListening)
        let gatewayInspector = GatewayInspector(config: config.gateway, mesh: mesh)
        let controller = StackController(
            supervisor: supervisor,
            info: .init(pid: getpid(), root: config.root, startedAt: startedAt, adminURL: adminURL),
            telemetry: {
                var counters = store.telemetryCounters
                counters.exportDropped = exporter?.droppedCount
                return counters
            },
            telemetryQueries: StoreQueries(writer: store),
            gateway: { gatewayInspector.usageReport() })
        let banner = bannerLines(root: config.root, adminURL: adminURL, plan: plan, gateway: gatewayPlan, mtls: security?.mode ?? .off,
                                  otlpPort: ingest.port)
        let admin = AdminAPI.server(control: controller, token: state.token, port: adminPort,
                                    telemetry: StoreQueries(writer: store), policies: policies.map(PolicyInspector.init),
                                    requests: RecordingService(writer: store, config: config, environment: options.environment,
                                                               ports: { writer.ports }),
                                    gateway: gatewayInspector, externals: ExternalsInspector(mesh: externals, config: config)) { _ in
            for line in banner { output.announce(line) }
            adminListening.open()
        }

        var logger = Logger(label: "devmesh")
        logger.logLevel = .critical
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: admin, failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: supervisor, successTerminationBehavior: .gracefullyShutdownGroup),
            ] + (policies.map { [.init(service: PolicyWatcher(policies: $0, fetcher: JWKSFetcher(root: config.root), output: output),
                                       successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)] } ?? []),
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [.sigquit],
            logger: logger))
        controller.attach(group)
        let outcome: Outcome
        do {
            try await group.run()
            output.announce("devmesh stopped")
            outcome = .finished(0)
        } catch {
            if !adminListening.isOpen, Self.isAddressInUse(error) {
                outcome = .adminPortTaken
            } else {
                output.announce("stopped because of an error: \(error)", severity: .error)
                outcome = .finished(1)
            }
        }
        await mesh.stop()
        await externals.stop()
        await ingest.stop()
        try? await logGroup.shutdownGracefully()
        await exporter?.finish()
        return outcome
    }

    static func isAddressInUse(_ error: any Error) -> Bool {
        if let io = error as? IOError, io.errnoCode == EADDRINUSE { return true }
        return "\(error)".contains("Address already in use")
    }

    private func bannerLines(root: String, adminURL: String, plan: SupervisionPlan, gateway: MeshPlan.Gateway?, mtls: MTLSMode,
                             otlpPort: Int) -> [String] {
        let shown = Path.display(root, relativeTo: options.workingDirectory)
        var lines = ["devmesh \(BuildInfo.version) — \(plan.services.count) service\(plan.services.count == 1 ? "" : "s") in \(shown)"]
        let listed = plan.services.filter { $0.protocol != .none && plan.servicePorts[$0.name] != nil }
        let width = max("web UI".count, "gateway".count, listed.map(\.name.count).max() ?? 0)
        func pad(_ s: String) -> String { s + String(repeating: " ", count: width - s.count) }
        lines.append("\(pad("web UI"))  \(adminURL)  (JSON API at /api/v1, `devmesh ui` opens it)")
        if let gateway {
            let redirect = gateway.config.httpMode == .redirect ? " (redirects to HTTPS)" : ""
            lines.append("\(pad("gateway"))  https://localhost:\(gateway.httpsPort)  http://localhost:\(gateway.httpPort)\(redirect)")
            if gateway.config.autoHosts, let first = gateway.services.first {
                lines.append("\(pad(""))  each service at https://<service>.localhost:\(gateway.httpsPort), e.g. https://\(first).localhost:\(gateway.httpsPort)")
            }
        }
        if mtls != .off { lines.append("\(pad("mtls"))  \(mtls.rawValue) between sidecars") }
        lines.append("\(pad("otlp"))  http://127.0.0.1:\(otlpPort) (OTLP/HTTP; traces and logs in .devmesh/devmesh.db)")
        for s in listed {
            lines.append("\(pad(s.name))  \(s.protocol == .tcp ? "tcp" : "http")://127.0.0.1:\(plan.servicePorts[s.name]!)")
        }
        return lines
    }

    static func makeToken() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
    }
}

/// Reads files from the real file system for the config loader.
public struct LocalFiles: FileReading {
    public init() {}
    public func readText(atPath path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
