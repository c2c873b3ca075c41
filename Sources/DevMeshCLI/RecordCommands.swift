import ArgumentParser
import DevMeshApp
import DevMeshCore
import DevMeshRecord
import Foundation

/// `devmesh requests`: recorded exchanges (newest first), one in full, or a HAR export.
struct RequestsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests",
        abstract: "List recorded requests (gateway, and services with `record: true`); show one; export HAR.")

    @OptionGroup var stack: StackOptions
    @Argument(help: "A recording's id: show it in full (headers and bodies).") var id: Int64?
    @Option(help: "Recorded by this service's sidecars (`devmesh-gateway` for the gateway).") var service: String?
    @Option(help: "Requests whose target starts with this path, e.g. /api/orders.") var path: String?
    @Option(help: "Only requests of this last while, e.g. 10m.") var since: String?
    @Option(help: "How many at most (newest first).") var limit: Int = 50
    @Option(help: "Write the listed recordings, with bodies, as a HAR 1.2 file (`-` for standard output).") var har: String?
    @Flag(help: "One JSON document, stable for scripts.") var json = false

    func run() async throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit takes a number from 1 to 1000") }
        if let path, !path.hasPrefix("/") { throw ValidationError("--path is a path prefix starting with `/`, not `\(path)`") }
        let source: TelemetrySource
        do {
            source = try TelemetryCLI.source(file: stack.file)
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        let filter = RecordingFilter(service: service, path: path, sinceNanos: try TelemetryCLI.since(since), limit: limit)
        do {
            var one: RecordedExchange?
            if let id {
                guard let e = try await source.recording(id) else {
                    throw ExitCode(CommandSupport.fail(ReplaySettings.Failure(description: "no recording #\(id) (`devmesh requests` lists them; retention may have removed it)")))
                }
                one = e
                if har == nil {
                    if json { return try TelemetryCLI.printJSON(RecordingDetail(e)) }
                    printDetail(e)
                    return
                }
            }
            if let har {
                let recordings: [RecordedExchange]
                if let one { recordings = [one] } else { recordings = try await source.fullRecordings(filter) }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let data = try encoder.encode(HAR(recordings: recordings.reversed(), version: BuildInfo.version))
                if har == "-" {
                    FileHandle.standardOutput.write(data + Data("\n".utf8))
                } else {
                    try data.write(to: URL(fileURLWithPath: har))
                    Terminal.printError("wrote \(recordings.count) recording\(recordings.count == 1 ? "" : "s") to \(har)")
                }
                return
            }
            let list = try await source.recordings(filter)
            if json { return try TelemetryCLI.printJSON(list) }
            if list.isEmpty {
                print("no recorded requests match (the gateway records by default; services with `record: true` too)")
                return
            }
            var rows: [[String]] = [["ID", "TIME", "SERVICE", "METHOD", "TARGET", "STATUS", "DURATION", "SIZES", "NOTES"]]
            for r in list {
                var notes: [String] = []
                if r.requestTruncated || r.responseTruncated { notes.append("truncated") }
                if r.redactions > 0 { notes.append("redacted \(r.redactions)") }
                rows.append([String(r.id), TelemetryCLI.clock(r.timeNanos), r.service, r.method, String(r.target.prefix(60)),
                             r.status.map(String.init) ?? "-", TraceWaterfall.duration(UInt64(r.durationMillis * 1e6)),
                             "\(Self.bytes(r.requestSize))/\(Self.bytes(r.responseSize))", notes.joined(separator: ", ")])
            }
            Self.printTable(rows)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
    }

    private func printDetail(_ e: RecordedExchange) {
        print("#\(e.id ?? 0)  \(TelemetryCLI.clock(e.timeNanos))  \(e.service) (\(e.listener))  from \(e.source ?? "-")  trace \(e.traceID)")
        print("")
        print("\(e.method) \(e.target)")
        for f in e.request.headers { print("\(f.name): \(f.value)") }
        Self.printBody(e.request)
        print("")
        print(e.status.map { "→ \($0)" } ?? "→ no response")
        for f in e.response.headers { print("\(f.name): \(f.value)") }
        Self.printBody(e.response)
        if e.redactions > 0 { print("\n(\(e.redactions) value\(e.redactions == 1 ? "" : "s") redacted before storage)") }
    }

    static func printBody(_ m: RecordedExchange.Message) {
        guard !m.body.isEmpty else { return }
        print("")
        if let text = String(validating: m.body, as: UTF8.self) {
            print(text)
        } else {
            print("(binary, \(m.body.count) bytes)")
        }
        if m.truncated { print("… truncated: \(m.body.count) of \(m.size) bytes recorded") }
    }

    static func bytes(_ n: Int) -> String {
        n < 1024 ? "\(n)B" : n < 1 << 20 ? String(format: "%.1fK", Double(n) / 1024) : String(format: "%.1fM", Double(n) / 1048576)
    }

    static func printTable(_ rows: [[String]]) {
        for line in TextColumns.lines(rows) { print(line) }
    }
}

/// `devmesh replay`: sends recorded requests again and diffs the answers; saves and runs suites.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay recorded requests and diff the answers; save or run a suite (exit 1 on any difference).",
        discussion: """
            Examples:
              devmesh replay 12                        send #12 again where it was recorded, diff the answer
              devmesh replay 12 --target orders --bearer "$TOKEN"
              devmesh replay 12 13 14 --save smoke.yaml
              devmesh replay --suite smoke.yaml        exit 1 on any difference (CI)
              devmesh replay --har session.har --times 100 --concurrency 8
            """)

    @OptionGroup var stack: StackOptions
    @Argument(help: "Recording ids (see `devmesh requests`).") var ids: [Int64] = []
    @Option(help: "Where to send: `gateway`, a service (its listener), or a base URL such as http://127.0.0.1:9000.") var target: String?
    @Option(name: .customLong("header"), help: "NAME: VALUE to send instead of the recorded field (repeatable); for redacted credentials.")
    var headers: [String] = []
    @Option(help: "A fresh token: sends `Authorization: Bearer TOKEN`.") var bearer: String?
    @Option(name: .customLong("ignore"), help: "A JSON ignore rule: a JSONPath ($.meta.id, $.items[*].at, $..etag) or re:REGEX over paths (repeatable).")
    var ignore: [String] = []
    @Option(name: .customLong("ignore-header"), help: "A response header not to compare, besides the default list (repeatable).")
    var ignoreHeaders: [String] = []
    @Option(help: "Write the recordings as a reviewable suite file instead of replaying them.") var save: String?
    @Option(help: "Replay a suite file; exit 1 on any difference.") var suite: String?
    @Option(help: "Replay the entries of a HAR file (from `devmesh requests --har` or a browser).") var har: String?
    @Option(help: "Send each request this many times.") var times: Int = 1
    @Option(help: "How many requests in flight at once.") var concurrency: Int = 1
    @Option(help: "Seconds to wait for each answer.") var timeout: Int = 30
    @Flag(help: "One JSON document, stable for scripts.") var json = false

    func validate() throws {
        let sources = [!ids.isEmpty, suite != nil, har != nil].filter { $0 }.count
        guard sources == 1 else {
            throw ValidationError(sources == 0 ? "give recording ids, --suite FILE or --har FILE" : "give only one of: recording ids, --suite, --har")
        }
        guard (1...100_000).contains(times) else { throw ValidationError("--times takes 1 to 100000") }
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency takes 1 to 256") }
        guard (1...600).contains(timeout) else { throw ValidationError("--timeout takes 1 to 600 seconds") }
        for h in headers where ReplayCredentials.parseHeader(h) == nil {
            throw ValidationError("--header takes `Name: value`, not `\(h)`")
        }
    }

    /// Suites and HAR files are read whole: bounded, so a wrong file cannot take the memory.
    static let maxInputBytes = 256 << 20

    static func read(_ path: String, what: String) throws -> Data {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw ReplaySettings.Failure(description: "cannot read the \(what) \(path): \((error as NSError).localizedDescription)")
        }
        if let size = attributes[.size] as? Int, size > maxInputBytes {
            throw ReplaySettings.Failure(description: "the \(what) \(path) is \(size >> 20) MiB; at most \(maxInputBytes >> 20) MiB are read")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReplaySettings.Failure(description: "cannot read the \(what) \(path) (permissions?)")
        }
        return data
    }

    func run() async throws {
        let root = StackLocator.root(file: stack.file, workingDirectory: CommandSupport.workingDirectory)
        let environment = CommandSupport.environment
        do {
            let settings = try ReplaySettings.load(root: root, file: stack.file, environment: environment,
                                                   workingDirectory: CommandSupport.workingDirectory)
            let finisher = try Replayer.finisher(recording: settings.recording, maxBody: settings.maxBody, environment: environment)
            // What to replay, with the suite's own target and ignore rules when there is one.
            var exchanges: [(exchange: RecordedExchange, name: String, ignore: [String])] = []
            var suiteTarget: String?
            var suiteRules: [String] = []
            var suiteHeaders: [String] = []
            if let suite {
                let parsed = try ReplaySuite.parse(String(decoding: try Self.read(suite, what: "suite"), as: UTF8.self), file: suite)
                suiteTarget = parsed.target
                suiteRules = parsed.ignore
                suiteHeaders = parsed.ignoreHeaders
                exchanges = parsed.cases.map { ($0.exchange, $0.name, $0.ignore) }
            } else if let har {
                // A HAR file holds whatever the browser saw, secrets included: redacted like a
                // recording before anything is saved, printed or compared; only the requests sent
                // keep their own credentials (the user's file, to the user's stack).
                exchanges = try HAR.parse(try Self.read(har, what: "HAR file"), file: har).exchanges().map { e in
                    let safe = finisher.finish(recorded: e)
                    var sent = e
                    sent.response = safe.response
                    sent.redacted = true
                    let name = "\(e.method) \(safe.target.split(separator: "?").first.map(String.init) ?? safe.target)"
                    return (save == nil ? sent : safe, name, [])
                }
            } else {
                let source = try TelemetryCLI.source(file: stack.file)
                for id in ids {
                    guard let e = try await source.recording(id) else {
                        throw ReplaySettings.Failure(description: "no recording #\(id) (`devmesh requests` lists them; retention may have removed it)")
                    }
                    exchanges.append((e, "#\(id) \(e.method) \(e.target.split(separator: "?").first.map(String.init) ?? e.target)", []))
                }
            }
            if let save {
                var suite = ReplaySuite(recordings: exchanges.map(\.exchange))
                if let target { suite.target = target }
                try suite.yaml().write(toFile: save, atomically: true, encoding: .utf8)
                Terminal.printError("saved \(suite.cases.count) case\(suite.cases.count == 1 ? "" : "s") to \(save) (redacted); run it with `devmesh replay --suite \(save)`")
                return
            }
            for warning in settings.warnings { Terminal.printError("devmesh: warning: \(warning)") }
            var credentials = settings.credentials
            credentials += headers.compactMap(ReplayCredentials.parseHeader)
            if let bearer { credentials.append(("Authorization", "Bearer " + bearer)) }
            let directory = StateDirectory(root: root)
            let ports = directory.isLocked() ? directory.readState()?.ports : nil
            // Every rule and target is checked before the HTTP client exists.
            let cliRules = try ReplaySettings.rules(ignore, from: "--ignore") + ReplaySettings.rules(suiteRules, from: "the suite's `ignore`")
            var jobs: [ReplaySession.Job] = []
            for item in exchanges {
                let resolved = try Replayer.resolve(target ?? suiteTarget, recordedAt: item.exchange.service, ports: ports)
                jobs.append(ReplaySession.Job(exchange: item.exchange, name: item.name, target: resolved,
                                              rules: cliRules + (try ReplaySettings.rules(item.ignore, from: "the `ignore` of case `\(item.name)`"))))
            }
            let replayer = Replayer(ports: ports, credentials: ReplayCredentials(headers: credentials),
                                    options: DiffOptions(extraIgnoredHeaders: settings.ignoredHeaders + suiteHeaders + ignoreHeaders,
                                                         rules: settings.rules),
                                    maxBody: settings.maxBody, timeout: .seconds(Int64(timeout)), redaction: finisher,
                                    environment: environment)
            var session = replayer
            session.recordsSpans = times == 1
            let outcomes = await ReplaySession(replayer: session).run(jobs, times: times, concurrency: concurrency)
            await replayer.shutdown()
            let different = outcomes.filter { !$0.equal }.count
            if json {
                struct Report: Encodable {
                    var results: [ReplaySession.Outcome]
                    var replayed: Int
                    var identical: Int
                    var different: Int
                }
                try TelemetryCLI.printJSON(Report(results: outcomes, replayed: outcomes.count, identical: outcomes.count - different, different: different))
            } else {
                let color = Terminal.wantsColor(fd: 1)
                for o in outcomes { ReplayOutput.print(o, times: times, color: color) }
                print("\(outcomes.count) replayed: \(outcomes.count - different) identical, \(different) different")
            }
            if different > 0 { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch let validation as ValidationError {
            throw validation
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
    }
}

/// The terminal form of a replay's outcome.
enum ReplayOutput {
    static func print(_ o: ReplaySession.Outcome, times: Int, color: Bool) {
        let d = o.diff
        let green = color ? "\u{1B}[32m" : "", red = color ? "\u{1B}[31m" : "", dim = color ? "\u{1B}[2m" : "", reset = color ? "\u{1B}[0m" : ""
        let status = "\(d.recorded.status.map(String.init) ?? "none") → \(d.replayed.status.map(String.init) ?? "none")"
        let timing = times > 1
            ? "\(o.runs) runs, \(o.identical) identical, p50 \(String(format: "%.1f", o.p50Millis)) ms, p99 \(String(format: "%.1f", o.p99Millis)) ms, statuses \(o.statuses.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "))"
            : String(format: "%.1f ms", d.replayed.durationMillis ?? 0)
        Swift.print("\(o.equal ? green + "✓" : red + "✗")\(reset) \(o.name)  \(dim)→ \(d.target ?? "?")\(reset)")
        Swift.print("    \(o.equal ? "identical" : "\(d.lines.count) difference\(d.lines.count == 1 ? "" : "s")") (\(status), \(timing))")
        for line in d.lines { Swift.print("    \(red)\(line)\(reset)") }
        if let note = d.body.note { Swift.print("    note: \(note)") }
        if !d.ignoredHeaders.isEmpty {
            Swift.print("    \(dim)not compared (default ignore list, replay.ignore_headers, --ignore-header, or redacted): \(d.ignoredHeaders.joined(separator: ", "))\(reset)")
        }
        for s in d.body.suppressed {
            Swift.print("    ignore \(s.rule): suppressed \(s.count) difference\(s.count == 1 ? "" : "s")")
        }
        for w in d.warnings { Swift.print("    warning: \(w)") }
        if let trace = d.replayed.traceID { Swift.print("    \(dim)trace \(trace) (`devmesh trace \(trace.prefix(12))`)\(reset)") }
    }
}
