import DevMeshAPI
import DevMeshCore
import DevMeshSupervisor
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

        public init(file: String?, workingDirectory: String, environment: [String: String]) {
            self.file = file
            self.workingDirectory = workingDirectory
            self.environment = environment
        }
    }

    public var options: Options

    public init(options: Options) {
        self.options = options
    }

    /// Runs the stack in the foreground; returns the process exit code.
    public func run() async -> Int32 {
        let loader = ConfigLoader(files: LocalFiles(), environment: options.environment, purpose: .up,
                                  workingDirectory: options.workingDirectory)
        let loaded = loader.load(file: options.file)
        let renderer = DiagnosticRenderer(sources: loaded.sources, useColor: Terminal.wantsColor(fd: 2))
        if !loaded.diagnostics.isEmpty {
            Terminal.printError(renderer.render(loaded.diagnostics))
        }
        guard let config = loaded.usableConfig, let root = loaded.root else {
            Terminal.printError("devmesh: not starting; fix the errors above (`devmesh check` shows them again)")
            return 1
        }

        let services: [ServiceConfig]
        do {
            services = try StackPlanner.select(options.services, from: config)
        } catch let failure as StackPlanner.Failure {
            Terminal.printError("devmesh: \(failure.description)" + (failure.hint.map { "\n  hint: \($0)" } ?? ""))
            return 1
        } catch {
            return 1
        }

        // One `up` per stack: the lock is held until this process ends.
        let directory = StateDirectory(root: root)
        let lockFD: Int32
        do {
            lockFD = try directory.acquireLock()
        } catch StateDirectory.LockError.alreadyRunning(let state) {
            var message = "devmesh: this stack is already running"
            if let state { message += " (pid \(state.pid), admin \(state.adminURL))" }
            message += "\n  hint: use that one, or stop it first with `devmesh down`"
            Terminal.printError(message)
            return 1
        } catch {
            Terminal.printError("devmesh: \(error)")
            return 1
        }
        defer { close(lockFD) }

        let color = options.color ?? Terminal.wantsColor(fd: 1)
        let instances = services.flatMap(\.instanceIDs)
        let output = LogOutput(formatter: LogFormatter(
            instances: instances, services: services.map(\.name), useColor: color,
            timestamps: options.timestamps, utcOffset: Terminal.utcOffset))

        let leftovers = directory.cleanUpLeftovers()
        if !leftovers.isEmpty {
            output.announce("stopped \(leftovers.count) process\(leftovers.count == 1 ? "" : "es") left running by a previous devmesh that did not shut down: \(leftovers.joined(separator: ", "))", severity: .warning)
        }

        // Ports: admin first (default falls back to a free port; an explicit one must be free).
        let adminPort: Int
        let explicitAdmin = options.adminPort ?? config.admin.port
        if let explicitAdmin {
            guard PortAllocator.isFree(explicitAdmin) else {
                Terminal.printError("devmesh: admin port \(explicitAdmin) is taken by another process\n  hint: free it, or choose another with `--admin-port` or `admin.port`")
                return 1
            }
            adminPort = explicitAdmin
        } else if PortAllocator.isFree(AdminConfig.defaultPort) {
            adminPort = AdminConfig.defaultPort
        } else {
            guard let port = try? PortAllocator.freePort() else {
                Terminal.printError("devmesh: cannot find a free port for the admin API")
                return 1
            }
            adminPort = port
            output.announce("port \(AdminConfig.defaultPort) is taken; the admin API uses port \(port) instead")
        }

        let plan: SupervisionPlan
        do {
            plan = try StackPlanner(loaded: loaded, environment: options.environment)
                .plan(services: services, reserved: [adminPort])
        } catch let failure as StackPlanner.Failure {
            Terminal.printError("devmesh: \(failure.description)" + (failure.hint.map { "\n  hint: \($0)" } ?? ""))
            return 1
        } catch {
            Terminal.printError("devmesh: \(error)")
            return 1
        }

        let startedAt = WallClock.system.now()
        let adminURL = "http://127.0.0.1:\(adminPort)"
        let state = StackState(
            pid: getpid(), pidStartTime: ProcessControl.startTime(of: getpid()), root: root,
            startedAt: startedAt, token: Self.makeToken(),
            ports: .init(admin: adminPort, services: plan.servicePorts,
                         replicas: Dictionary(plan.replicas.map { ($0.instanceID, $0.port) }, uniquingKeysWith: { a, _ in a })))
        let writer = StateWriter(directory: directory, initial: state)
        do {
            try writer.write()
        } catch {
            Terminal.printError("devmesh: \(error)")
            return 1
        }
        defer { directory.removeState() }

        // Log pipes get their own loop: a slow terminal slows log reading, nothing else.
        let logGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let supervisor = Supervisor(
            plan: plan, tuning: options.tuning, output: output,
            probeGroup: MultiThreadedEventLoopGroup.singleton, logGroup: logGroup,
            hooks: .init(childrenChanged: { writer.update(children: $0) }))
        let controller = StackController(
            supervisor: supervisor,
            info: .init(pid: getpid(), root: root, startedAt: startedAt, adminURL: adminURL))
        let admin = AdminAPI.server(control: controller, token: state.token, port: adminPort) { _ in }

        printBanner(output: output, root: root, adminURL: adminURL, plan: plan)

        var logger = Logger(label: "devmesh")
        logger.logLevel = .error
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: admin),
                .init(service: supervisor, successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [.sigquit],
            logger: logger))
        controller.attach(group)
        let exitCode: Int32
        do {
            try await group.run()
            output.announce("devmesh stopped")
            exitCode = 0
        } catch {
            output.announce("stopped because of an error: \(error)", severity: .error)
            exitCode = 1
        }
        try? await logGroup.shutdownGracefully()
        return exitCode
    }

    private func printBanner(output: LogOutput, root: String, adminURL: String, plan: SupervisionPlan) {
        let where_ = Path.display(root, relativeTo: options.workingDirectory)
        output.announce("devmesh \(BuildInfo.version) — \(plan.services.count) service\(plan.services.count == 1 ? "" : "s") in \(where_ == root ? root : (where_.isEmpty ? "." : where_))")
        let listed = plan.services.filter { $0.protocol != .none && plan.servicePorts[$0.name] != nil }
        let width = max("admin API".count, listed.map(\.name.count).max() ?? 0)
        func pad(_ s: String) -> String { s + String(repeating: " ", count: width - s.count) }
        output.announce("\(pad("admin API"))  \(adminURL)")
        for s in listed {
            output.announce("\(pad(s.name))  http://127.0.0.1:\(plan.servicePorts[s.name]!)")
        }
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
