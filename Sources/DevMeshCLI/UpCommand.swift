import ArgumentParser
import DevMeshApp
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run the stack in the foreground (Ctrl-C stops it).",
        discussion: """
            Starts the services of the Procfile / devmesh.yaml in `needs` order, each after the \
            services it needs are healthy, restarts them per `restart:`, and streams their logs. \
            With SERVICE names, runs only those and what they need or call.
            """)

    @OptionGroup var stack: StackOptions

    @Option(name: .customLong("admin-port"), help: "Port of the admin API (default 9901, or a free one if taken).")
    var adminPort: Int?

    @Option(name: .customLong("https-port"), help: "HTTPS port of the gateway (default 8443, or a free one if taken).")
    var httpsPort: Int?

    @Option(name: .customLong("http-port"), help: "Plain-HTTP port of the gateway (default 8080, or a free one if taken).")
    var httpPort: Int?

    @Option(name: .customLong("otlp-port"), help: "Port of OTLP/HTTP ingest (default 4318, or a free one if taken).")
    var otlpPort: Int?

    @Flag(name: .shortAndLong, help: "Prefix log lines with the time.")
    var timestamps = false

    @Flag(name: .customLong("no-color"), help: "No colors, even on a terminal (NO_COLOR works too).")
    var noColor = false

    @Flag(name: .customLong("access-log"), help: "Print one line per request through the sidecars.")
    var accessLog = false

    @Flag(name: .customLong("no-telemetry"), help: "Record no spans or access records (for measuring their cost).")
    var noTelemetry = false

    @Argument(help: "Run only these services (and what they need).")
    var services: [String] = []

    func validate() throws {
        for (flag, value) in [("--admin-port", adminPort), ("--https-port", httpsPort), ("--http-port", httpPort), ("--otlp-port", otlpPort)] {
            if let value, !(1...65535).contains(value) {
                throw ValidationError("\(flag) must be between 1 and 65535")
            }
        }
    }

    func run() async throws {
        // A closed terminal or pipe must not kill devmesh while it stops the stack.
        signal(SIGPIPE, SIG_IGN)
        var options = StackRunner.Options(
            file: stack.file, workingDirectory: CommandSupport.workingDirectory, environment: CommandSupport.environment)
        options.services = services
        options.adminPort = adminPort
        options.httpsPort = httpsPort
        options.httpPort = httpPort
        options.otlpPort = otlpPort
        options.timestamps = timestamps
        options.accessLog = accessLog
        options.telemetry = !noTelemetry
        if noColor { options.color = false }
        if let tuning = RestartTuningOverride.fromEnvironment(CommandSupport.environment) { options.tuning = tuning }
        let code = await StackRunner(options: options).run()
        if code != 0 { throw ExitCode(code) }
    }
}
