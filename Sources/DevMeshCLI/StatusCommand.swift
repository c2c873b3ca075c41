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
            if let usage = status.gateway, let table = GatewayUsageTable.render(usage) { print("\n" + table) }
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
        var out = "stack \(status.root) — pid \(status.pid), up \(duration(now - status.startedAt)), admin \(status.adminURL)\n"
        if let t = status.telemetry {
            out += "telemetry: \(t.spans ?? t.recorded) spans and \(t.logs ?? 0) log lines stored, \(t.dropped) dropped under overload"
            if let rejected = t.otlpRejected, rejected > 0 { out += ", \(rejected) OTLP requests refused (store busy)" }
            if let lost = t.exportDropped, lost > 0 { out += ", \(lost) not exported" }
            out += "\n"
        }
        return out + TextColumns.lines(rows).joined(separator: "\n")
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(max(0, seconds))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m"
    }
}

/// The gateway's part of `devmesh status`: each route with traffic, and its busiest callers.
enum GatewayUsageTable {
    static func render(_ usage: GatewayUsageReport) -> String? {
        var rows: [[String]] = [["GATEWAY ROUTE", "REQUESTS", "5XX", "4XX", "401", "429", "CACHED", "P50", "P99"]]
        func row(_ name: String, _ c: GatewayUsageReport.Counts, extra: String = "") -> [String] {
            [name, String(c.requests), String(c.errors), String(c.clientErrors), String(c.unauthenticated), String(c.rateLimited),
             String(c.cacheHits), c.latency.map { ms($0.p50) } ?? "-", (c.latency.map { ms($0.p99) } ?? "-") + extra]
        }
        for route in usage.routes where route.counts.requests > 0 {
            rows.append(row(route.route + (route.auth.map { " (\($0))" } ?? ""), route.counts))
            for caller in route.callers.prefix(5) where caller.kind != "anonymous" || route.callers.count > 1 {
                let left = caller.remaining.map { "  (\($0)/\(route.rateLimit?.requests ?? 0) left)" } ?? ""
                rows.append(row("  " + caller.kind + " " + (caller.name.isEmpty ? "-" : caller.name), caller.counts, extra: left))
            }
        }
        if usage.automaticHosts.requests > 0 { rows.append(row("<service>.localhost", usage.automaticHosts)) }
        if usage.unrouted.requests > 0 { rows.append(row("(no route)", usage.unrouted)) }
        guard rows.count > 1 else { return nil }
        // Numbers right-aligned; the last column also carries the allowance left, so it stays left-aligned.
        return TextColumns.lines(rows, rightAligned: Set(1..<(rows[0].count - 1))).joined(separator: "\n")
    }

    static func ms(_ v: Double) -> String {
        v < 10 ? String(format: "%.1fms", v) : String(format: "%.0fms", v)
    }
}
