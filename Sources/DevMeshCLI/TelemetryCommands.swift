import ArgumentParser
import DevMeshApp
import DevMeshCore
import Foundation

/// `-f` means "follow" for `logs` (as `tail -f`, `docker logs -f`, `kubectl logs -f`), so the
/// stack file is `--file` there; the other telemetry commands take `-f/--file` like every command.
struct FileOnlyOption: ParsableArguments {
    @Option(name: .customLong("file"), help: "A Procfile or devmesh.yaml; its folder is the stack's root.")
    var file: String?
}

enum TelemetryCLI {
    static func source(file: String?) throws -> TelemetrySource {
        try TelemetrySource.open(root: StackLocator.root(file: file, workingDirectory: CommandSupport.workingDirectory))
    }

    static func nowNanos() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }

    static func since(_ text: String?) throws -> UInt64? {
        guard let text else { return nil }
        guard let d = DurationParser.parse(text) else {
            throw ValidationError("--since takes a duration such as 10m, 2h or 1d, not `\(text)`")
        }
        let back = TelemetryQueryParameters.nanos(d)
        return nowNanos() > back ? nowNanos() - back : 0
    }

    static func printJSON<T: Encodable>(_ value: T, pretty: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func clock(_ nanos: UInt64) -> String {
        LogFormatter.clock(Double(nanos) / 1e9 + Double(Terminal.utcOffset))
    }
}

struct TracesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traces", abstract: "Recent traces, newest first: root request, services, duration, status.")

    @OptionGroup var stack: StackOptions
    @Option(help: "Traces with a span from this service.") var service: String?
    @Option(help: "The root request's path: a prefix (/users) or a glob (/users/*/orders).") var path: String?
    @Option(help: "`error` (any span failed) or an HTTP status of the root request.") var status: String?
    @Option(name: .customLong("min-duration"), help: "Only traces at least this long (e.g. 50ms).") var minDuration: String?
    @Option(name: .customLong("max-duration"), help: "Only traces at most this long (e.g. 2s).") var maxDuration: String?
    @Option(help: "Only traces that started in this last while (e.g. 10m), or since a time (2026-11-26T09:30:00Z).") var since: String?
    @Option(help: "Only traces that started before: a while ago (e.g. 5m) or a time (2026-11-26T10:00:00Z).") var until: String?
    @Option(name: .customLong("attr"), help: "KEY=VALUE: some span carries this attribute (repeatable), e.g. --attr peer.service=users.")
    var attributes: [String] = []
    @Option(help: "How many traces at most.") var limit: Int = 20
    @Flag(help: "One JSON document, stable for scripts.") var json = false

    func run() async throws {
        // The API's own parser: the CLI and the UI accept exactly the same filters.
        var query: [(String, String)] = []
        for (key, value) in [("service", service), ("path", path), ("status", status), ("min_duration", minDuration),
                             ("max_duration", maxDuration), ("since", since), ("until", until)] {
            if let value { query.append((key, value)) }
        }
        query += attributes.map { ("attr", $0) }
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        query.append(("limit", String(limit)))
        let filter: TraceFilter
        do {
            filter = try TelemetryQueryParameters.traceFilter(query, nowNanos: TelemetryCLI.nowNanos())
        } catch let invalid as TelemetryQueryParameters.Invalid {
            var message = invalid.description
            for (key, _) in query { message = message.replacingOccurrences(of: "`\(key)`", with: "--" + key.replacingOccurrences(of: "_", with: "-")) }
            throw ValidationError(message)
        }
        let traces: [TraceSummary]
        do {
            traces = try await TelemetryCLI.source(file: stack.file).traces(filter)
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        if json { return try TelemetryCLI.printJSON(traces) }
        if traces.isEmpty {
            print("no traces match")
            return
        }
        let color = Terminal.wantsColor(fd: 1)
        var rows: [[String]] = [["TRACE", "TIME", "ROOT", "STATUS", "DURATION", "SPANS", "SERVICES"]]
        for t in traces {
            let status = t.errorCount > 0 ? "✗ \(t.statusCode.map(String.init) ?? "error")" : (t.statusCode.map(String.init) ?? "-")
            rows.append([String(t.traceID.prefix(12)), TelemetryCLI.clock(t.startNanos), "\(t.rootService) \(t.rootName)", status,
                         TraceWaterfall.duration(t.durationNanos), String(t.spanCount), t.services.joined(separator: ",")])
        }
        for (i, line) in TextColumns.lines(rows).enumerated() {
            if color, i > 0, traces[i - 1].errorCount > 0 {
                print("\u{1B}[31m\(line)\u{1B}[0m")
            } else {
                print(line)
            }
        }
    }
}

struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace", abstract: "One trace as a waterfall: every span, its duration and errors, and the trace's logs.")

    @OptionGroup var stack: StackOptions
    @Argument(help: "The trace id (32 hex digits, or a unique prefix of 8 or more, as `traces` prints).") var traceID: String
    @Flag(help: "One JSON document, stable for scripts.") var json = false

    func run() async throws {
        let id = traceID.lowercased()
        guard id.count >= 8, id.count <= 32, id.allSatisfy(\.isHexDigit) else {
            throw ValidationError("a trace id is 32 hex digits (or a unique prefix of 8 or more), not `\(traceID)`")
        }
        let detail: TraceDetail?
        do {
            detail = try await TelemetryCLI.source(file: stack.file).trace(id)
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        guard let detail else {
            Terminal.printError("devmesh: no trace `\(traceID)` in this stack's store\n  hint: `devmesh traces` lists recent ones (a prefix must be unique)")
            throw ExitCode(1)
        }
        if json { return try TelemetryCLI.printJSON(detail) }
        print(TraceWaterfall(useColor: Terminal.wantsColor(fd: 1)).render(detail))
    }
}

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "The stack's log lines (apps' output, devmesh's messages, OTLP logs), oldest first.")

    @OptionGroup var stack: FileOnlyOption
    @Argument(help: "Services or instances (users, users.2); all when none.") var services: [String] = []
    @Flag(name: .shortAndLong, help: "Keep printing new lines as they come (the stack must be running).") var follow = false
    @Option(help: "Only lines containing this text (case-insensitive).") var grep: String?
    @Option(help: "Only lines tied to this trace id.") var trace: String?
    @Option(help: "Only lines from this last while (e.g. 10m).") var since: String?
    @Option(help: "How many lines at most (the newest).") var limit: Int = 200
    @Flag(help: "JSON: one document, or one JSON object a line with -f.") var json = false

    func run() async throws {
        if let trace, !(trace.count == 32 && trace.allSatisfy(\.isHexDigit)) {
            throw ValidationError("--trace takes a 32-digit hex trace id, not `\(trace)`")
        }
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        var filter = LogFilter(services: services, grep: grep, traceID: trace?.lowercased(), limit: limit)
        filter.sinceNanos = try TelemetryCLI.since(since)
        let source: TelemetrySource
        var lines: [TelemetryLog]
        do {
            source = try TelemetryCLI.source(file: stack.file)
            lines = try await source.logs(filter)
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        let formatter = LogFormatter(instances: lines.map { $0.instance ?? $0.service }, services: Array(Set(lines.map(\.service))).sorted(),
                                     useColor: Terminal.wantsColor(fd: 1), timestamps: true, utcOffset: Terminal.utcOffset)
        if json, !follow { return try TelemetryCLI.printJSON(lines) }
        print(lines, formatter: formatter)
        guard follow else { return }
        guard source.isLive else {
            Terminal.printError("devmesh: the stack is not running; nothing more will come (start it with `devmesh up`)")
            return
        }
        var last = lines.last?.id ?? 0
        if lines.isEmpty, case .api = source {
            // Nothing matched yet: follow from the newest line of the store.
            last = try await source.logs(LogFilter(limit: 1)).last?.id ?? 0
        }
        filter.limit = 1000
        filter.sinceNanos = nil
        while true {
            filter.afterID = last
            let more: [TelemetryLog]
            do {
                more = try await source.logs(filter, wait: .seconds(20))
            } catch {
                Terminal.printError("devmesh: the stack stopped (\(error))")
                return
            }
            print(more, formatter: formatter)
            last = more.last?.id ?? last
        }
    }

    private func print(_ lines: [TelemetryLog], formatter: LogFormatter) {
        var out = ""
        for log in lines {
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                out += String(decoding: (try? encoder.encode(log)) ?? Data(), as: UTF8.self) + "\n"
            } else {
                let stream = LogLine.Stream(rawValue: log.stream) ?? .stdout
                var text = log.body
                if log.stream == "otlp", let severity = log.severity { text = "\(severity) \(text)" }
                out += formatter.format(LogLine(instance: log.instance ?? log.service, service: log.service, stream: stream,
                                                timestamp: Double(log.timeNanos) / 1e9, text: text,
                                                severity: log.stream == "devmesh" ? log.severity.flatMap { Diagnostic.Severity(rawValue: $0.lowercased()) } : nil)) + "\n"
            }
        }
        if !out.isEmpty {
            FileHandle.standardOutput.write(Data(out.utf8))
        }
    }
}
