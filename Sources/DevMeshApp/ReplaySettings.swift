import DevMeshCore
import DevMeshRecord
import Foundation

/// What a replay takes from the stack's devmesh.yaml: `replay.auth` (fresh credentials, `${VAR}`
/// expanded from devmesh's environment and `env_file`), `replay.ignore`, `replay.ignore_headers`,
/// and `recording.max_body` (how much of a replayed answer is read and compared).
public struct ReplaySettings: Sendable {
    public var credentials: [(name: String, value: String)] = []
    public var rules: [JSONDiff.IgnoreRule] = []
    public var ignoredHeaders: [String] = []
    public var maxBody = RecordingConfig.defaultMaxBody
    /// The stack's extra redaction names (replayed answers are redacted like recordings).
    public var recording = RecordingConfig()
    /// What could not be applied (an unset variable), said once before replaying.
    public var warnings: [String] = []

    public init() {}

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public init(config: StackConfig, environment: [String: String]) throws {
        maxBody = config.recording.maxBody
        recording = config.recording
        ignoredHeaders = config.replay.ignoreHeaders
        rules = try Self.rules(config.replay.ignore, from: "`replay.ignore` in devmesh.yaml")
        var dotenv: [String: String] = [:]
        if let file = config.envFile {
            let path = file.hasPrefix("/") ? file : config.root + "/" + file
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                for v in DotEnv.parse(text, file: path).0 { dotenv[v.name] = v.value }
            } else {
                warnings.append("the top-level `env_file` \(path) cannot be read: only devmesh's environment is used for `replay.auth`")
            }
        }
        // An empty variable counts as unset: `Bearer ` with nothing after it is no credential.
        let lookup: (String) -> String? = { name in (environment[name] ?? dotenv[name]).flatMap { $0.isEmpty ? nil : $0 } }
        /// nil (with a warning) when a variable is unset: `--bearer`/`--header` may still supply it.
        func expand(_ value: String, _ what: String) -> String? {
            switch SecretExpansion.expand(value, lookup: lookup) {
            case .success(let v): return v
            case .failure(let errors):
                let names = errors.failures.map { f -> String in
                    switch f {
                    case .unset(let n), .badName(let n): return "${\(n)}"
                    case .unterminated: return "an unterminated `${`"
                    }
                }
                warnings.append("\(what) in devmesh.yaml uses \(names.joined(separator: ", ")), which is not set: replaying without it (export it, or put it in the top-level `env_file`)")
                return nil
            }
        }
        for h in config.replay.headers {
            if let value = expand(h.value, "header `\(h.name)` of `replay.auth`") { credentials.append((h.name, value)) }
        }
        if let bearer = config.replay.bearer, let token = expand(bearer, "`replay.auth.bearer`") {
            credentials.append(("Authorization", "Bearer " + token))
        }
    }

    /// The settings of the stack at `root` (defaults when it has no devmesh.yaml).
    public static func load(root: String, file: String?, environment: [String: String], workingDirectory: String) throws -> ReplaySettings {
        let loaded = ConfigLoader(files: LocalFiles(), environment: environment, purpose: .check, workingDirectory: workingDirectory)
            .load(file: file, root: file == nil ? root : nil)
        guard let config = loaded.config else { return ReplaySettings() }
        return try ReplaySettings(config: config, environment: environment)
    }

    public static func rules(_ texts: [String], from what: String) throws -> [JSONDiff.IgnoreRule] {
        try texts.map { text in
            do {
                return try JSONDiff.IgnoreRule(text)
            } catch {
                throw Failure(description: "\(what): \(error)")
            }
        }
    }
}
