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
            }
        }
        let lookup: (String) -> String? = { environment[$0] ?? dotenv[$0] }
        func expand(_ value: String, _ what: String) throws -> String {
            switch SecretExpansion.expand(value, lookup: lookup) {
            case .success(let v): return v
            case .failure(let errors):
                let names = errors.failures.compactMap { f -> String? in if case .unset(let n) = f { return n } else { return nil } }
                throw Failure(description: "\(what) in devmesh.yaml uses \(names.map { "${\($0)}" }.joined(separator: ", ")), which is not set\n  hint: export it before `devmesh replay`, or put it in the top-level `env_file`")
            }
        }
        for h in config.replay.headers {
            credentials.append((h.name, try expand(h.value, "header `\(h.name)` of `replay.auth`")))
        }
        if let bearer = config.replay.bearer {
            credentials.append(("Authorization", "Bearer " + (try expand(bearer, "`replay.auth.bearer`"))))
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
