import ArgumentParser
import DevMeshApp
import DevMeshCore
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Services, replicas, pids, ports, health, restarts and uptime of the running stack.")

    @OptionGroup var stack: StackOptions

    @Flag(help: "One JSON document, stable for scripts.")
    var json = false

    func run() async throws {
        let status: StackStatus
        do {
            status = try await CommandSupport.client(stack).status()
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
        } else {
            print(StatusTable.render(status, now: Date().timeIntervalSince1970))
        }
    }
}

/// The human form of `devmesh status`.
enum StatusTable {
    static func render(_ status: StackStatus, now: Double) -> String {
        var rows: [[String]] = [["SERVICE", "INSTANCE", "STATE", "HEALTH", "PID", "PORT", "RESTARTS", "UPTIME"]]
        for service in status.services {
            for (i, r) in service.replicas.enumerated() {
                rows.append([
                    i == 0 ? service.name + (service.port.map { ":\($0)" } ?? "") : "",
                    r.instance, r.state.rawValue, r.health, r.pid.map(String.init) ?? "-", String(r.port),
                    String(r.restarts), r.uptime.map(duration) ?? (r.lastExit ?? "-"),
                ])
            }
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        var out = "stack \(status.root) — pid \(status.pid), up \(duration(now - status.startedAt)), admin \(status.adminURL)\n"
        if let t = status.telemetry {
            out += "telemetry: \(t.spans ?? t.recorded) spans and \(t.logs ?? 0) log lines stored, \(t.dropped) dropped under overload"
            if let rejected = t.otlpRejected, rejected > 0 { out += ", \(rejected) OTLP requests refused (store busy)" }
            if let lost = t.exportDropped, lost > 0 { out += ", \(lost) not exported" }
            out += "\n"
        }
        for row in rows {
            out += row.enumerated().map { c, cell in
                c == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[c] - cell.count)
            }.joined(separator: "  ") + "\n"
        }
        return String(out.dropLast())
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(max(0, seconds))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m"
    }
}
