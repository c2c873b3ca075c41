import ArgumentParser
import DevMeshApp
import DevMeshAuth
import DevMeshCore
import DevMeshPolicy
import Foundation

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Test, explain and lint Istio authorization policies before they are deployed.",
        subcommands: [PolicyTestCommand.self, PolicyExplainCommand.self, PolicyLintCommand.self])
}

/// `--policies DIR...` and `-f`, shared by the policy commands.
struct PolicyOptions: ParsableArguments {
    @OptionGroup var stack: StackOptions
    @Option(name: .customLong("policies"), parsing: .upToNextOption,
            help: "Policy files or folders to use instead of devmesh.yaml's `policies:`.")
    var paths: [String] = []

    func load() throws -> (LoadedPolicies, PolicyWorkspace) {
        let loaded = LoadedPolicies.load(file: stack.file, policyPaths: paths, workingDirectory: CommandSupport.workingDirectory,
                                         environment: CommandSupport.environment)
        if !loaded.diagnostics.isEmpty { FileHandle.standardError.write(Data(loaded.render(loaded.diagnostics).utf8)) }
        guard let workspace = loaded.workspace, !loaded.diagnostics.hasErrors else {
            Terminal.printError("devmesh: fix the errors above first")
            throw ExitCode(1)
        }
        return (loaded, workspace)
    }

    /// The issuers' keys, for raw tokens; a source that cannot be loaded is reported on stderr.
    static func keys(_ workspace: PolicyWorkspace, root: String) async throws -> JWKSStore {
        let (keys, warnings) = await RawTokens.keys(for: workspace, root: root)
        for warning in warnings { Terminal.printError("devmesh: warning: \(warning)") }
        return keys
    }
}

struct PolicyTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "Run a file of what-if cases against the policies; exit 1 on any failure.")

    @OptionGroup var options: PolicyOptions
    @Argument(help: "The cases (PRODUCT.md / docs/policies.md: `cases:` with to, from, request, expect).") var cases: String
    @Flag(help: "One JSON document, stable for scripts.") var json = false

    func run() async throws {
        let (loaded, workspace) = try options.load()
        guard let text = try? String(contentsOfFile: cases, encoding: .utf8) else {
            Terminal.printError("devmesh: cannot read \(cases)")
            throw ExitCode(1)
        }
        let parsed = PolicyTestCase.parse(text, file: cases)
        if !parsed.diagnostics.isEmpty {
            FileHandle.standardError.write(Data(DiagnosticRenderer(sources: [cases: text], useColor: Terminal.wantsColor(fd: 2)).render(parsed.diagnostics).utf8))
            if parsed.diagnostics.hasErrors { throw ExitCode(1) }
        }
        let now = Int64(Date().timeIntervalSince1970)
        var cases = parsed.cases
        if cases.contains(where: { $0.jwt != nil }) {
            // Raw tokens are verified with the issuers' keys, like a real request's.
            let keys = try await PolicyOptions.keys(workspace, root: loaded.root)
            for i in cases.indices { cases[i] = await RawTokens.resolve(cases[i], in: workspace, keys: keys) }
        }
        let results = cases.map { workspace.run($0, nowSeconds: now) }
        if json {
            struct Row: Encodable {
                var name: String, passed: Bool, expected: String, outcome: String, policy: String?, rule: Int?, reason: String?, failure: String?
            }
            let rows = results.map {
                Row(name: $0.testCase.name, passed: $0.passed, expected: $0.testCase.expect.rawValue, outcome: $0.outcome.text,
                    policy: $0.decision?.decidedBy?.policy, rule: $0.decision?.decidedBy?.rule, reason: $0.decision?.reason,
                    failure: $0.passed ? nil : $0.failure)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        } else {
            for result in results {
                if result.passed {
                    print("ok    \(result.testCase.name) — \(result.outcome.text)" + (result.decision?.decidedBy.map { " by \($0)" } ?? ""))
                } else {
                    let at = result.testCase.location.map { "\($0.file):\($0.line): " } ?? ""
                    print("FAIL  \(result.testCase.name) — \(at)\(result.failure)")
                    for considered in result.decision?.considered ?? [] {
                        print("        \(considered.policy) (\(considered.action)\(considered.dryRun ? ", dry-run" : "")): \(considered.why.joined(separator: "; "))")
                    }
                }
            }
            let failed = results.filter { !$0.passed }.count
            print("\(results.count - failed) passed, \(failed) failed")
        }
        if results.contains(where: { !$0.passed }) { throw ExitCode(1) }
    }
}

struct PolicyExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain", abstract: "Would this request be allowed, and why: every policy in scope and how it matched.")

    @OptionGroup var options: PolicyOptions
    @Option(help: "The destination: a service, devmesh-gateway, or external-NAME.") var to: String
    @Option(help: "The calling service (over mTLS).") var from: String?
    @Option(help: "The caller's principal, e.g. cluster.local/ns/default/sa/orders.") var principal: String?
    @Option(help: "HTTP method.") var method: String = "GET"
    @Option(help: "Request path (normalised as the sidecar would).") var path: String = "/"
    @Option(help: "Host header.") var host: String?
    @Option(help: "destination.port (default: the service's port).") var port: Int?
    @Option(name: .customLong("source-ip"), help: "The caller's address.") var sourceIP: String?
    @Option(help: "A header as NAME:VALUE (repeatable).") var header: [String] = []
    @Option(help: "A validated token's claims as JSON, e.g. {\"iss\":\"https://issuer.test\",\"sub\":\"alice\"}.") var claims: String?
    @Option(help: "A raw JWT, verified with the issuers' keys like a real request's.") var jwt: String?
    @Flag(help: "One JSON document.") var json = false

    func run() async throws {
        let (loaded, workspace) = try options.load()
        var c = PolicyTestCase(name: "explain", to: to, expect: .allow)
        c.from = from
        c.principal = principal
        c.method = method
        c.path = path
        c.host = host
        c.port = port
        c.sourceIP = sourceIP
        c.jwt = jwt
        for h in header {
            guard let colon = h.firstIndex(of: ":") else { throw ValidationError("--header takes NAME:VALUE, not `\(h)`") }
            c.headers[h[..<colon].lowercased()] = h[h.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if let claims {
            guard let data = claims.data(using: .utf8), let decoded = try? JSONDecoder().decode([String: AttributeValue].self, from: data) else {
                throw ValidationError("--claims takes a JSON object such as {\"iss\":\"https://issuer.test\",\"sub\":\"alice\"}")
            }
            c.claims = decoded
        }
        if c.jwt != nil {
            c = await RawTokens.resolve(c, in: workspace, keys: try await PolicyOptions.keys(workspace, root: loaded.root))
        }
        let result = workspace.run(c, nowSeconds: Int64(Date().timeIntervalSince1970))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            struct Explained: Encodable { var outcome: String; var decision: PolicyDecision? }
            print(String(decoding: try encoder.encode(Explained(outcome: result.outcome.text, decision: result.decision)), as: UTF8.self))
            return
        }
        print("\(result.outcome.text.uppercased())  \(method) \(path) → \(to)" + (from.map { " from \($0)" } ?? principal.map { " from \($0)" } ?? " (no principal)"))
        guard let decision = result.decision else { return }
        print("  \(decision.reason)")
        if decision.considered.isEmpty { print("  no policy applies to \(to)") }
        for considered in decision.considered {
            print("  \(considered.policy) — \(considered.action)\(considered.dryRun ? " (dry-run)" : ""): \(considered.matchedRule.map { "rule \($0) matches" } ?? "no rule matches")")
            for why in considered.why { print("      \(why)") }
        }
        for line in decision.dryRun { print("  dry-run: \(line)") }
        for line in decision.audited { print("  audited by \(line)") }
        for line in decision.unsupported { print("  warning: \(line)") }
    }
}

struct PolicyLintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint", abstract: "Warn about policies that do not do what they read like (bypasses, literal *, selectors matching nothing).")

    @OptionGroup var options: PolicyOptions

    func run() throws {
        let (loaded, workspace) = try options.load()
        let warnings = PolicyLint.check(workspace)
        if warnings.isEmpty {
            print("ok: \(workspace.engine.policies.count) polic\(workspace.engine.policies.count == 1 ? "y" : "ies"), nothing to warn about")
        } else {
            print(loaded.render(warnings), terminator: "")
        }
    }
}
