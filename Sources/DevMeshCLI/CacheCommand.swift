import ArgumentParser
import DevMeshApp
import DevMeshCore
import Foundation

/// `devmesh cache`: the gateway's response cache — what is stored, its counters — and purges.
struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "The gateway's response cache: counters and stored answers; `purge` drops them.",
        subcommands: [CacheShowCommand.self, CachePurgeCommand.self], defaultSubcommand: CacheShowCommand.self)
}

struct CacheShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Counters and stored answers (most recently used first).")

    @OptionGroup var stack: StackOptions

    @Option(help: "At most this many entries.")
    var limit = 50

    @Flag(help: "One JSON document, stable for scripts.")
    var json = false

    func run() async throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit is a number from 1 to 10000") }
        let report: GatewayCacheReport
        do {
            guard let r = try await CommandSupport.client(stack).cacheReport(limit: limit) else {
                Terminal.printError("devmesh: no gateway route caches; add `cache: true` to a route in devmesh.yaml (docs/gateway.md#caching)")
                throw ExitCode(1)
            }
            report = r
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.render(report))
        }
    }

    static func render(_ r: GatewayCacheReport) -> String {
        let s = r.stats
        var out = "cache: \(s.entries) answers, \(bytes(s.bytes)) of \(bytes(s.maxBytes)) (at most \(bytes(s.maxEntryBytes)) each)\n"
        out += "since up: \(s.hits) hits, \(s.misses) misses, \(s.revalidated) revalidated, \(s.stale) served stale, \(s.bypassed) bypassed; "
        out += "\(s.stored) stored, \(s.evicted) evicted, \(s.purged) purged\n"
        out += "routes: " + r.routes.joined(separator: ", ") + "\n"
        guard !r.entries.isEmpty else { return out + "nothing stored" }
        var rows = [["SERVICE", "PATH", "STATUS", "SIZE", "AGE", "FRESH FOR", "VARY"]]
        for e in r.entries {
            rows.append([e.service, e.path, String(e.status), bytes(e.bytes), "\(e.age)s",
                         e.fresh ? "\(e.lifetime - e.age)s" : "stale", e.vary.joined(separator: " ")])
        }
        return out + TextColumns.lines(rows).joined(separator: "\n")
    }

    static func bytes(_ n: Int) -> String {
        n < 1024 ? "\(n) B" : n < 1 << 20 ? String(format: "%.1f KiB", Double(n) / 1024) : String(format: "%.1f MiB", Double(n) / 1048576)
    }
}

struct CachePurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge", abstract: "Drop stored answers: all, a service's, or those under a path prefix.")

    @OptionGroup var stack: StackOptions

    @Argument(help: "Only answers whose path starts with this (e.g. /api/catalog).")
    var prefix: String?

    @Option(help: "Only this service's answers.")
    var service: String?

    func run() async throws {
        if let prefix, !prefix.hasPrefix("/") { throw ValidationError("the prefix is a path starting with `/`, e.g. /api/catalog") }
        do {
            guard let n = try await CommandSupport.client(stack).purgeCache(service: service, prefix: prefix) else {
                Terminal.printError("devmesh: no gateway route caches; nothing to purge")
                throw ExitCode(1)
            }
            print("purged \(n) stored answer\(n == 1 ? "" : "s")")
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
    }
}
