import ArgumentParser
import DevMeshApp
import DevMeshCore
import Foundation

/// `devmesh external`: the stack's externals (their ambassadors' modes, breakers and counts), and
/// `mode NAME MODE` to switch one live.
struct ExternalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "external", abstract: "The ambassadors of external services: list them, or switch one's mode live.",
        subcommands: [ExternalListCommand.self, ExternalModeCommand.self], defaultSubcommand: ExternalListCommand.self)
}

struct ExternalListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Each external: mode, breaker, calls, answers replayed and recorded.")

    @OptionGroup var stack: StackOptions

    @Flag(help: "One JSON document, stable for scripts.")
    var json = false

    func run() async throws {
        let reports: [ExternalReport]
        do {
            reports = try await CommandSupport.client(stack).externals()
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(reports), as: UTF8.self))
            return
        }
        guard !reports.isEmpty else {
            print("no externals in this stack (declare them under `external:` in devmesh.yaml; docs/externals.md)")
            return
        }
        print(Self.render(reports))
    }

    static func render(_ reports: [ExternalReport]) -> String {
        var rows = [["EXTERNAL", "MODE", "URL", "CALLERS", "BREAKER", "CALLS", "LIVE", "REPLAYED", "RECORDED", "MISSES", "FAILURES"]]
        for r in reports {
            let mode = r.mode == r.configuredMode ? r.mode.rawValue : "\(r.mode.rawValue) (yaml: \(r.configuredMode.rawValue))"
            rows.append([r.name, mode, r.url, r.callers.isEmpty ? "-" : r.callers.joined(separator: ","), r.breaker.rawValue,
                         String(r.calls), String(r.live), String(r.replayed), String(r.recorded), String(r.misses), String(r.failures)])
        }
        return TextColumns.lines(rows).joined(separator: "\n")
    }
}

struct ExternalModeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mode", abstract: "Switch an external's mode until the stack stops (devmesh.yaml keeps its own).",
        discussion: "live: every call goes out; record: goes out and is recorded; replay: answered from recordings only (a miss is 502 with the closest recordings); replay-or-live: recordings first, else out and recorded.")

    @OptionGroup var stack: StackOptions

    @Argument(help: "The external's name under `external:`.")
    var name: String

    @Argument(help: "live | record | replay | replay-or-live")
    var mode: String

    func run() async throws {
        guard let wanted = ExternalConfig.Mode(rawValue: mode) else {
            throw ValidationError("the mode is one of \(ExternalConfig.Mode.allCases.map(\.rawValue).joined(separator: ", ")), not `\(mode)`")
        }
        do {
            let report = try await CommandSupport.client(stack).setExternalMode(name, to: wanted)
            print("external \(report.name): mode \(report.mode.rawValue)" + (report.mode == report.configuredMode ? "" : " (devmesh.yaml says \(report.configuredMode.rawValue); back to it at the next `devmesh up`)"))
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
    }
}
