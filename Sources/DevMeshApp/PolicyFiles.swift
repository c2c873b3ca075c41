import DevMeshCore
import DevMeshPolicy
import Foundation

/// Reads a stack's policy files: `policies:` of devmesh.yaml (files or folders of `.yaml`/`.yml`,
/// relative to the stack's root), or the folders `--policies` names instead.
public struct PolicyFiles: Sendable {
    public var documents: [PolicyDocuments] = []
    public var diagnostics: [Diagnostic] = []
    /// File texts by display name, for quoting lines in diagnostics.
    public var sources: [String: String] = [:]

    public static func load(_ paths: [String], root: String) -> PolicyFiles {
        var out = PolicyFiles()
        for path in paths {
            var full = path.hasPrefix("/") ? path : root + "/" + path
            while full.count > 1, full.hasSuffix("/") { full.removeLast() }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) else {
                out.diagnostics.append(.error(at: nil, "policy path `\(path)` does not exist (looked in \(full))",
                                              hint: "fix `policies:` in devmesh.yaml or the --policies argument"))
                continue
            }
            var files: [String] = []
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: full)) ?? []
                files = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { full + "/" + $0 }
            } else {
                files = [full]
            }
            for file in files {
                let shown = Path.display(file, relativeTo: root)
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    out.diagnostics.append(.error(at: nil, "cannot read policy file \(shown)"))
                    continue
                }
                // A test-case file beside the policies is not a policy.
                if text.range(of: "^cases:", options: .regularExpression) != nil { continue }
                out.sources[shown] = text
                let documents = PolicyDocuments.parse(text, file: shown)
                out.diagnostics += documents.diagnostics
                out.documents.append(documents)
            }
        }
        // Policies are Kubernetes objects: a namespace/name names one (decisions are keyed by it).
        var seen: [String: SourceLocation?] = [:]
        for policy in out.documents.flatMap(\.authorizationPolicies) {
            if let first = seen[policy.id] {
                let there = first.map { " (first at \($0.file):\($0.line))" } ?? ""
                out.diagnostics.append(.error(at: policy.location, "a second AuthorizationPolicy \(policy.id)\(there)",
                                              hint: "give each policy its own metadata.name within its namespace"))
            } else {
                seen[policy.id] = policy.location
            }
        }
        return out
    }

    /// The policy files' paths, sizes and content hashes: what live reload watches.
    public static func fingerprint(_ paths: [String], root: String) -> String {
        var parts: [String] = []
        for path in paths {
            var full = path.hasPrefix("/") ? path : root + "/" + path
            while full.count > 1, full.hasSuffix("/") { full.removeLast() }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) else {
                parts.append(full + ":missing")
                continue
            }
            var files = [full]
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: full)) ?? []
                files = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { full + "/" + $0 }
            }
            for file in files {
                // Policy files are small: hashing their bytes catches an edit within the same
                // second of the same size, which a modification time would miss.
                guard let data = FileManager.default.contents(atPath: file) else {
                    parts.append(file + ":unreadable")
                    continue
                }
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                for byte in data {
                    hash ^= UInt64(byte)
                    hash = hash &* 0x100_0000_01b3
                }
                parts.append("\(file):\(data.count):\(String(hash, radix: 16))")
            }
        }
        return parts.joined(separator: "\n")
    }
}
