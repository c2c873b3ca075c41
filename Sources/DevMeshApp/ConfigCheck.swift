import DevMeshCore
import DevMeshPolicy
import DevMeshRecord
import Foundation

/// `devmesh check`: every diagnostic of the config, exit 1 on errors.
public enum ConfigCheck {
    public static func run(file: String?, workingDirectory: String, environment: [String: String], json: Bool) async -> Int32 {
        let root = file == nil ? StackLocator.root(file: nil, workingDirectory: workingDirectory) : nil
        let loader = ConfigLoader(files: LocalFiles(), environment: environment, purpose: .check, workingDirectory: workingDirectory)
        var loaded = loader.load(file: file, root: root)
        // The policies too: their parse errors, and `policy lint`'s warnings.
        var authentications: [RequestAuthentication]?
        if let config = loaded.config, !config.policies.isEmpty {
            let files = PolicyFiles.load(config.policies, root: config.root)
            authentications = files.documents.flatMap(\.requestAuthentications)
            loaded.diagnostics += files.diagnostics
            loaded.sources.merge(files.sources) { a, _ in a }
            if !files.diagnostics.hasErrors {
                let workspace = PolicyWorkspace(config: config, documents: files.documents)
                loaded.diagnostics += PolicyLint.check(workspace)
                loaded.diagnostics += await keyWarnings(workspace, root: config.root)
            }
        }
        if let config = loaded.config {
            loaded.diagnostics += replayWarnings(config)
            let auth = GatewayAuth.load(config, authentications: authentications)
            loaded.diagnostics += auth.diagnostics
            loaded.sources.merge(auth.sources) { a, _ in a }
            let docs = GatewayDocs.load(config, httpsPort: nil)
            loaded.diagnostics += docs.diagnostics
            loaded.sources.merge(docs.sources) { a, _ in a }
        }
        if json {
            struct Report: Encodable {
                var ok: Bool
                var services: [String]
                var diagnostics: [Diagnostic]
            }
            let report = Report(ok: !loaded.diagnostics.hasErrors, services: loaded.config?.services.map(\.name) ?? [],
                                diagnostics: loaded.diagnostics.sortedByLocation())
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            if let data = try? encoder.encode(report) { print(String(decoding: data, as: UTF8.self)) }
            return loaded.diagnostics.hasErrors ? 1 : 0
        }
        let renderer = DiagnosticRenderer(sources: loaded.sources, useColor: Terminal.wantsColor(fd: 1))
        if !loaded.diagnostics.isEmpty {
            print(renderer.render(loaded.diagnostics), terminator: "")
        }
        if loaded.diagnostics.hasErrors { return 1 }
        if let config = loaded.config {
            let files = config.origin.files.joined(separator: " + ")
            print("ok: \(files) — \(config.services.count) service\(config.services.count == 1 ? "" : "s"): \(config.services.map(\.name).joined(separator: ", "))")
        }
        return 0
    }

    /// `replay.ignore` rules are JSONPath or `re:` regexes: a typo would make `replay` refuse to run.
    static func replayWarnings(_ config: StackConfig) -> [Diagnostic] {
        zip(config.replay.ignore, config.replay.ignoreLocations).compactMap { rule, location in
            do {
                _ = try JSONDiff.IgnoreRule(rule)
                return nil
            } catch {
                return .error(at: location, "`replay.ignore`: \(error)", hint: "e.g. `$.meta.requestId`, `$.items[*].updatedAt`, `$..etag` or `re:^\\$\\.debug`")
            }
        }
    }

    /// Inline and file JWKS that `up` could not use (URLs are fetched by `up`, not here).
    static func keyWarnings(_ workspace: PolicyWorkspace, root: String) async -> [Diagnostic] {
        let fetcher = JWKSFetcher(root: root)
        var out: [Diagnostic] = []
        for auth in workspace.authentications {
            for rule in auth.jwtRules where !(rule.jwksUri.map(JWKSFetcher.isRemote) ?? false) {
                if case .unavailable(let why) = await fetcher.fetch(rule) {
                    out.append(.warning(at: auth.location, "\(auth.id): the keys of `\(rule.issuer)` cannot be used: \(why)",
                                        hint: "tokens of this issuer are refused (401) until `jwks`/`jwksUri` holds a JWKS with its public keys"))
                }
            }
        }
        return out
    }
}
