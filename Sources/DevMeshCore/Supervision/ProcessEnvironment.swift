/// The environment one replica's process gets (PRODUCT.md, "Environment each service gets").
public struct ProcessEnvironment: Sendable {
    /// devmesh's own environment, inherited by every app (as foreman does).
    public var inherited: [String: String]
    /// The top-level `env_file`: secrets for `${VAR}`, not passed to apps by themselves.
    public var stackEnvFile: [EnvVar]
    /// Each service's `env_file` variables.
    public var serviceEnvFiles: [String: [EnvVar]]

    /// Variables only devmesh may hold: those `external.*.headers` use. They are not inherited by
    /// apps (the ambassador injects the credential; the app never sees it) — unless a service's
    /// `env:` names one explicitly.
    public var withheld: Set<String> = []

    public init(inherited: [String: String], stackEnvFile: [EnvVar], serviceEnvFiles: [String: [EnvVar]], withheld: Set<String> = []) {
        self.inherited = inherited
        self.stackEnvFile = stackEnvFile
        self.serviceEnvFiles = serviceEnvFiles
        self.withheld = withheld
    }

    /// The names `${…}` in external headers refer to.
    public static func externalSecrets(_ externals: [ExternalConfig]) -> Set<String> {
        Set(externals.flatMap { $0.headers.flatMap { SecretExpansion.references(in: $0.value) } })
    }

    /// Layers, later wins: inherited, the service's env_file, `OTEL_*` identity defaults, `env:`
    /// (with `${VAR}` expanded), then the variables devmesh owns (`PORT`, `DEVMESH_*`, `<NAME>_URL`).
    /// Throws when a `${VAR}` is unset (the check at load time reports it with its location).
    /// `otlpEndpoint`: devmesh's OTLP/HTTP ingest, so an app's OpenTelemetry SDK sends its spans
    /// and logs there (they join the sidecars' traces).
    public func build(service: ServiceConfig, replica: Int, port: Int, upstreamURLs: [String: String],
                      otlpEndpoint: String? = nil) throws -> [String: String] {
        var env = inherited.filter { !withheld.contains($0.key) }
        for v in serviceEnvFiles[service.name] ?? [] { env[v.name] = v.value }
        env["OTEL_SERVICE_NAME"] = service.name
        env["OTEL_RESOURCE_ATTRIBUTES"] = "service.instance.id=\(service.name).\(replica)"
        if let otlpEndpoint {
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint
            env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
        }
        for v in service.env {
            env[v.name] = try SecretExpansion.expand(v.value) { name in
                inherited[name] ?? stackEnvFile.last(where: { $0.name == name })?.value
            }.get()
        }
        env["PORT"] = String(port)
        env["DEVMESH_SERVICE"] = service.name
        env["DEVMESH_REPLICA"] = String(replica)
        for upstream in service.upstreams {
            if let url = upstreamURLs[upstream] { env[ServiceName.urlVariable(for: upstream)] = url }
        }
        return env
    }

    /// `$PORT` and `${PORT}` replaced in the command, so the line shown to the user is the one run.
    public static func expandPort(in command: String, port: Int) -> String {
        var out = command.replacingOccurrencesOf("${PORT}", with: String(port))
        var result = ""
        var i = out.startIndex
        while i < out.endIndex {
            if out[i] == "$", out[i...].hasPrefix("$PORT") {
                let after = out.index(i, offsetBy: 5)
                if after == out.endIndex || !(out[after].isLetter || out[after].isNumber || out[after] == "_") {
                    result += String(port)
                    i = after
                    continue
                }
            }
            result.append(out[i])
            i = out.index(after: i)
        }
        out = result
        return out
    }
}

extension String {
    func replacingOccurrencesOf(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
