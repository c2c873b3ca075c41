import DevMeshCore
import DevMeshPolicy
import Foundation

/// The stack's config and policies as one `PolicyWorkspace`, for `devmesh policy …` and `check`.
public struct LoadedPolicies: Sendable {
    public var workspace: PolicyWorkspace?
    public var diagnostics: [Diagnostic]
    public var sources: [String: String]
    public var root: String

    /// `policyPaths` (the `--policies` folders) replace the config's `policies:` when given.
    public static func load(file: String?, policyPaths: [String], workingDirectory: String, environment: [String: String]) -> LoadedPolicies {
        let root = file == nil ? StackLocator.root(file: nil, workingDirectory: workingDirectory) : nil
        let loaded = ConfigLoader(files: LocalFiles(), environment: environment, purpose: .check, workingDirectory: workingDirectory)
            .load(file: file, root: root)
        guard let config = loaded.config else {
            return LoadedPolicies(workspace: nil, diagnostics: loaded.diagnostics, sources: loaded.sources, root: loaded.root ?? workingDirectory)
        }
        let paths = policyPaths.isEmpty ? config.policies : policyPaths.map { $0.hasPrefix("/") ? $0 : workingDirectory + "/" + $0 }
        let files = PolicyFiles.load(paths, root: config.root)
        // Only the config's errors matter here; its warnings belong to `devmesh check`.
        let configErrors = loaded.diagnostics.filter { $0.severity == .error }
        return LoadedPolicies(workspace: PolicyWorkspace(config: config, documents: files.documents),
                              diagnostics: configErrors + files.diagnostics,
                              sources: loaded.sources.merging(files.sources) { a, _ in a }, root: config.root)
    }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        DiagnosticRenderer(sources: sources, useColor: Terminal.wantsColor(fd: 2)).render(diagnostics)
    }
}
