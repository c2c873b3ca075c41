/// Finds and reads a stack's config files, merges Procfile and devmesh.yaml into one model,
/// and runs every validation pass. Reports all diagnostics at once.
public struct ConfigLoader: Sendable {
    public enum Purpose: Sendable {
        /// `devmesh check`: unset `${VAR}` is a warning.
        case check
        /// `devmesh up`: unset `${VAR}` is an error.
        case up
    }

    public static let procfileName = "Procfile"
    public static let yamlName = "devmesh.yaml"

    public var files: any FileReading
    /// devmesh's own environment, for `${VAR}`.
    public var environment: [String: String]
    public var purpose: Purpose
    /// The folder relative names are shown from.
    public var workingDirectory: String

    public init(files: any FileReading, environment: [String: String], purpose: Purpose, workingDirectory: String) {
        self.files = files
        self.environment = environment
        self.purpose = purpose
        self.workingDirectory = workingDirectory
    }

    /// Loads the stack in `root` (a folder), or from `file` (`-f`, a Procfile or a devmesh.yaml).
    public func load(file: String? = nil, root: String? = nil) -> LoadedConfig {
        var result = LoadedConfig()
        let stackRoot: String
        var procfilePath: String?
        var yamlPath: String?
        if let file {
            let absolute = Path.join(workingDirectory, file)
            stackRoot = Path.directory(of: absolute)
            let name = Path.lastComponent(absolute)
            if name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                yamlPath = absolute
                procfilePath = Path.join(stackRoot, Self.procfileName)
            } else {
                procfilePath = absolute
                yamlPath = Path.join(stackRoot, Self.yamlName)
            }
            if files.readText(atPath: absolute) == nil {
                result.diagnostics.append(.error(at: nil, "cannot read `\(file)`: no such file",
                                                 hint: "check the path given to -f"))
                return result
            }
        } else {
            stackRoot = root ?? workingDirectory
            procfilePath = Path.join(stackRoot, Self.procfileName)
            yamlPath = Path.join(stackRoot, Self.yamlName)
        }
        result.root = stackRoot

        let procfileText = procfilePath.flatMap { files.readText(atPath: $0) }
        let yamlText = yamlPath.flatMap { files.readText(atPath: $0) }
        guard procfileText != nil || yamlText != nil else {
            result.diagnostics.append(.error(
                at: nil, stackRoot == workingDirectory ? "no Procfile or devmesh.yaml in the current folder"
                    : "no Procfile or devmesh.yaml in \(Path.display(stackRoot, relativeTo: workingDirectory))",
                hint: "create a Procfile with lines like `web: python3 app.py`, or pass one with -f"))
            return result
        }

        var procfile = Procfile(entries: [])
        if let procfilePath, let procfileText {
            let name = display(procfilePath)
            result.sources[name] = procfileText
            let (parsed, diagnostics) = Procfile.parse(procfileText, file: name)
            procfile = parsed
            result.diagnostics += diagnostics
        }
        var yaml = StackConfig(root: stackRoot)
        if let yamlPath, let yamlText {
            let name = display(yamlPath)
            result.sources[name] = yamlText
            let (parsed, diagnostics) = DevMeshYAML.parse(yamlText, file: name, root: stackRoot)
            yaml = parsed
            result.diagnostics += diagnostics
        }

        var config = ConfigMerge.merge(procfile: procfile, yaml: yaml, diagnostics: &result.diagnostics)
        config.root = stackRoot
        config.origin.files = [procfilePath.flatMap { procfileText == nil ? nil : display($0) },
                               yamlPath.flatMap { yamlText == nil ? nil : display($0) }].compactMap { $0 }

        // Env files are read here (I/O through `files`); their problems join the same report.
        if let envFile = config.envFile {
            result.stackEnvFile = readEnvFile(envFile, root: stackRoot, at: config.origin.envFile, into: &result)
        }
        for service in config.services {
            if let envFile = service.envFile {
                result.serviceEnvFiles[service.name] = readEnvFile(envFile, root: stackRoot, at: service.origin.envFile, into: &result)
            }
        }

        let context = ValidationContext(
            environment: environment, stackEnvFile: result.stackEnvFile, purpose: purpose)
        for pass in ConfigValidation.passes {
            result.diagnostics += pass(config, context)
        }
        result.config = config
        return result
    }

    private func display(_ path: String) -> String {
        Path.display(path, relativeTo: workingDirectory)
    }

    private func readEnvFile(_ path: String, root: String, at location: SourceLocation?, into result: inout LoadedConfig) -> [EnvVar] {
        let absolute = Path.join(root, path)
        guard let text = files.readText(atPath: absolute) else {
            result.diagnostics.append(.error(at: location, "env file `\(path)` does not exist",
                                             hint: "create it (KEY=value lines) or fix the path; it is relative to the stack's folder"))
            return []
        }
        let name = display(absolute)
        result.sources[name] = text
        let (vars, diagnostics) = DotEnv.parse(text, file: name)
        result.diagnostics += diagnostics
        return vars
    }
}

/// What loading produced: the model (when it could be built), every diagnostic, and the texts read.
public struct LoadedConfig: Sendable {
    public var config: StackConfig?
    public var root: String?
    public var diagnostics: [Diagnostic] = []
    /// File texts by display name, for quoting lines in diagnostics.
    public var sources: [String: String] = [:]
    /// The top-level `env_file`'s variables (devmesh's secrets for `${VAR}`).
    public var stackEnvFile: [EnvVar] = []
    /// Each service's `env_file` variables.
    public var serviceEnvFiles: [String: [EnvVar]] = [:]

    public init() {}

    /// The model, only when no diagnostic is an error.
    public var usableConfig: StackConfig? { diagnostics.hasErrors ? nil : config }
}
