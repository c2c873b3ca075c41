/// What validation passes may consult besides the config itself.
public struct ValidationContext: Sendable {
    public var environment: [String: String]
    public var stackEnvFile: [EnvVar]
    public var purpose: ConfigLoader.Purpose

    /// `${VAR}` lookup: devmesh's own environment first, then the top-level env_file.
    public func secret(_ name: String) -> String? {
        environment[name] ?? stackEnvFile.last(where: { $0.name == name })?.value
    }
}

/// Validation as a list of named passes over the merged model (caddy's adapters, process-compose's loader).
public enum ConfigValidation {
    public typealias Pass = @Sendable (StackConfig, ValidationContext) -> [Diagnostic]

    public static let passes: [Pass] = [names, references, dependencyCycles, ports, environment, secrets, externals, notImplemented]

    /// Variables devmesh sets itself; a service may not set them.
    static let reservedEnv: Set<String> = ["PORT", "DEVMESH_SERVICE", "DEVMESH_REPLICA"]

    // MARK: - names

    static let names: Pass = { config, _ in
        var out: [Diagnostic] = []
        for s in config.services where !ServiceName.isValid(s.name) {
            out.append(.error(
                at: s.origin.primary, "service name `\(s.name)` is not a DNS-1123 label",
                hint: "rename it `\(ServiceName.suggestion(for: s.name))` (lower-case letters, digits and `-`, at most 63)"))
        }
        let serviceNames = Set(config.services.map(\.name))
        for e in config.externals {
            if !ServiceName.isValid(e.name) {
                out.append(.error(
                    at: e.location, "external name `\(e.name)` is not a DNS-1123 label",
                    hint: "rename it `\(ServiceName.suggestion(for: e.name))` (lower-case letters, digits and `-`, at most 63)"))
            }
            if serviceNames.contains(e.name) {
                out.append(.error(at: e.location, "`\(e.name)` is both a service and an external",
                                  hint: "rename one of them, e.g. `\(e.name)-api`"))
            }
        }
        return out
    }

    // MARK: - references

    static let references: Pass = { config, _ in
        var out: [Diagnostic] = []
        let services = Dictionary(config.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let externals = Set(config.externals.map(\.name))
        let known = config.services.map(\.name) + config.externals.map(\.name)
        for s in config.services {
            for (i, need) in s.needs.enumerated() {
                let at = s.origin.needs.indices.contains(i) ? s.origin.needs[i] : s.origin.primary
                if need == s.name {
                    out.append(.error(at: at, "service `\(s.name)` needs itself", hint: "remove `\(need)` from `needs`"))
                } else if services[need] == nil {
                    out.append(.error(
                        at: at, "service `\(s.name)` needs `\(need)`, which is not a service of this stack",
                        hint: Suggestion.closest(to: need, in: config.services.map(\.name)).map { "did you mean `\($0)`?" }
                            ?? "define `\(need)` in the Procfile or under `services:`, or remove it from `needs`"))
                }
            }
            for (i, upstream) in s.upstreams.enumerated() {
                let at = s.origin.upstreams.indices.contains(i) ? s.origin.upstreams[i] : s.origin.primary
                if upstream == s.name {
                    out.append(.error(at: at, "service `\(s.name)` lists itself as an upstream",
                                      hint: "remove `\(upstream)` from `upstreams`; an app reaches itself directly"))
                } else if let target = services[upstream] {
                    if target.protocol == .none {
                        out.append(.error(at: at, "`\(upstream)` has `protocol: none`, so it has no URL to give `\(s.name)`",
                                          hint: "set `protocol: http` or `tcp` on `\(upstream)`, or remove it from `upstreams`"))
                    }
                } else if !externals.contains(upstream) {
                    out.append(.error(
                        at: at, "service `\(s.name)` has upstream `\(upstream)`, which is neither a service nor an external",
                        hint: Suggestion.closest(to: upstream, in: known).map { "did you mean `\($0)`?" }
                            ?? "define `\(upstream)` under `services:` or `external:`, or remove it from `upstreams`"))
                }
            }
        }
        for route in config.gateway.routes where !route.to.isEmpty {
            if services[route.to] == nil, !externals.contains(route.to) {
                out.append(.error(
                    at: route.location, "route goes `to: \(route.to)`, which is neither a service nor an external",
                    hint: Suggestion.closest(to: route.to, in: known).map { "did you mean `\($0)`?" } ?? "name a service of this stack"))
            }
        }
        for route in config.gateway.routes {
            for call in route.aggregate ?? [] {
                guard let service = services[call.to] else {
                    out.append(.error(at: call.location ?? route.location, "aggregate call `\(call.name)` goes `to: \(call.to)`, which is not a service of this stack",
                                      hint: Suggestion.closest(to: call.to, in: known).map { "did you mean `\($0)`?" } ?? "name an http service"))
                    continue
                }
                if service.protocol != .http {
                    out.append(.error(at: call.location ?? route.location, "aggregate call `\(call.name)` goes to `\(call.to)`, which is not an http service",
                                      hint: "aggregate routes merge JSON answers of http services"))
                }
            }
        }
        return out
    }

    // MARK: - cycles

    static let dependencyCycles: Pass = { config, _ in
        DependencyGraph(config.services).cycles().map { cycle in
            let first = config.service(named: cycle[0])
            let at = first.flatMap { s in
                s.needs.firstIndex(of: cycle[1]).flatMap { s.origin.needs.indices.contains($0) ? s.origin.needs[$0] : nil }
            } ?? first?.origin.primary
            return .error(at: at, "services need each other in a cycle: \((cycle + [cycle[0]]).joined(separator: " → "))",
                          hint: "remove one of these `needs` so the services can start in order")
        }
    }

    // MARK: - ports

    static let ports: Pass = { config, _ in
        var out: [Diagnostic] = []
        var claimed: [Int: String] = [:]
        func claim(_ port: Int?, by owner: String, at location: SourceLocation?) {
            guard let port else { return }
            if let other = claimed[port] {
                out.append(.error(at: location, "port \(port) of \(owner) is already used by \(other)",
                                  hint: "give each listener its own port, or leave `port` out for an automatic one"))
            } else {
                claimed[port] = owner
                if port < 1024 {
                    out.append(.warning(at: location, "port \(port) of \(owner) is below 1024 and needs root to bind",
                                        hint: "use a port of 1024 or above"))
                }
            }
        }
        claim(config.admin.port, by: "`admin`", at: config.origin.adminPort)
        if config.gateway.declared {
            claim(config.gateway.httpsPort, by: "`gateway.https_port`", at: config.origin.httpsPort)
            claim(config.gateway.httpPort, by: "`gateway.http_port`", at: config.origin.httpPort)
        }
        claim(config.telemetry.otlpPort, by: "`telemetry.otlp_port`", at: config.origin.otlpPort)
        for s in config.services {
            claim(s.port, by: "service `\(s.name)`", at: s.origin.port)
        }
        return out
    }

    // MARK: - environment

    static let environment: Pass = { config, _ in
        var out: [Diagnostic] = []
        for s in config.services {
            for v in s.env {
                if !EnvName.isValid(v.name) {
                    out.append(.error(at: v.location, "`\(v.name)` is not a valid environment variable name",
                                      hint: "use letters, digits and `_`, not starting with a digit"))
                } else if reservedEnv.contains(v.name) {
                    out.append(.error(at: v.location, "`\(v.name)` is set by devmesh for every service",
                                      hint: "remove it from `env`; read it in the app instead"))
                }
            }
        }
        return out
    }

    // MARK: - secrets

    static let secrets: Pass = { config, context in
        var out: [Diagnostic] = []
        func check(_ value: String, at location: SourceLocation?, what: String, neededAtUp: Bool = true) {
            switch SecretExpansion.expand(value, lookup: context.secret) {
            case .success: break
            case .failure(let errors):
                for failure in errors.failures {
                    switch failure {
                    case .unset(let name):
                        let severity: Diagnostic.Severity = context.purpose == .up && neededAtUp ? .error : .warning
                        let when = neededAtUp ? "`devmesh up`" : "`devmesh replay`"
                        out.append(Diagnostic(severity, at: location, "\(what) uses `${\(name)}`, which is not set",
                                              hint: "export \(name) before \(when), or put `\(name)=…` in the top-level `env_file`"))
                    case .unterminated:
                        out.append(.error(at: location, "\(what) has `${` without a closing `}`",
                                          hint: "write `${NAME}`, or `$$` for a literal `$`"))
                    case .badName(let name):
                        out.append(.error(at: location, "\(what) has `${\(name)}`, which is not a variable name",
                                          hint: "use letters, digits and `_` inside `${…}`"))
                    }
                }
            }
        }
        for s in config.services {
            for v in s.env { check(v.value, at: v.location, what: "`\(v.name)` of service `\(s.name)`") }
        }
        for e in config.externals {
            for h in e.headers { check(h.value, at: h.location, what: "header `\(h.name)` of external `\(e.name)`") }
        }
        // Replay credentials are read when replaying, not by `up`: unset is only a warning there.
        if let bearer = config.replay.bearer {
            check(bearer, at: config.replay.bearerLocation, what: "`replay.auth.bearer`", neededAtUp: false)
        }
        for h in config.replay.headers {
            check(h.value, at: h.location, what: "header `\(h.name)` of `replay.auth`", neededAtUp: false)
        }
        return out
    }

    // MARK: - externals

    /// Fields the ambassador owns (framing, the connection, the external's host).
    static let ambassadorFields: Set<String> = ["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
                                                "trailer", "proxy-connection", "proxy-authorization"]

    static let externals: Pass = { config, _ in
        var out: [Diagnostic] = []
        let serviceNames = Set(config.services.map(\.name))
        for e in config.externals {
            if serviceNames.contains(e.workload) {
                out.append(.error(at: e.location, "the ambassador of external `\(e.name)` is the workload `\(e.workload)`, which is also a service",
                                  hint: "rename the service or the external"))
            }
            for h in e.headers {
                if !HeaderEdits.isFieldName(h.name) {
                    out.append(.error(at: h.location, "`\(h.name)` in `headers` of external `\(e.name)` is not a header name",
                                      hint: "e.g. `headers: {Authorization: \"Bearer ${TOKEN}\"}`"))
                } else if ambassadorFields.contains(h.name.lowercased()) {
                    out.append(.error(at: h.location, "`\(h.name)` in `headers` of external `\(e.name)` is set by the ambassador itself",
                                      hint: "remove it; the ambassador writes framing, connection and Host fields from `url`"))
                }
            }
            for name in e.match.headers where !HeaderEdits.isFieldName(name) {
                out.append(.error(at: e.location, "`\(name)` in `match.headers` of external `\(e.name)` is not a header name",
                                  hint: "e.g. `match: {headers: [Idempotency-Key]}`"))
            }
            for field in e.match.body where field.isEmpty || field.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
                out.append(.error(at: e.location, "`\(field)` in `match.body` of external `\(e.name)` is not a field path",
                                  hint: "name a JSON field, or a dotted path such as `order.id`"))
            }
        }
        return out
    }

    // MARK: - not implemented yet

    /// Sections whose feature is not built yet are checked but warned about, never silently accepted.
    static let notImplemented: Pass = { config, _ in
        var out: [Diagnostic] = []
        func warn(_ section: String, _ feature: String) {
            guard let at = config.origin.sections[section] else { return }
            out.append(.warning(at: at, "`\(section)` is not implemented yet: \(feature); it is checked but has no effect",
                                hint: "leave it in place; it takes effect once this devmesh version supports it"))
        }
        // Two routes with the same host, path and version: the second is never reached.
        var seen: [String: SourceLocation?] = [:]
        for route in config.gateway.routes {
            let key = [route.host ?? "", route.path ?? "/", route.version.map { $0.header.lowercased() + "=" + $0.value } ?? ""].joined(separator: "\u{0}")
            if let first = seen[key] {
                let at = first.map { " (line \($0.line))" } ?? ""
                out.append(.error(at: route.location, "this route matches exactly what an earlier one\(at) matches: it is never reached",
                                  hint: "remove one, or tell them apart by `host`, `path` or `version`"))
            } else {
                seen[key] = route.location
            }
        }
        for route in config.gateway.routes {
            if let path = route.path, path == "/_devmesh" || path.hasPrefix("/_devmesh/") {
                out.append(.error(at: route.location, "`/_devmesh/` is the gateway's own (its API docs are at /_devmesh/docs): a route there would never be reached",
                                  hint: "pick another path"))
            }
            var keyed = false
            if case .apiKeys = route.auth { keyed = true }
            if case .basic = route.auth { keyed = true }
            if route.rateLimit?.by == .key, !keyed {
                out.append(.warning(at: route.location, "`rate_limit.by: key` on a route without `auth: {api_keys: FILE}` or `{basic: FILE}`: there is no key or user to count by, so it is limited per client address",
                                    hint: "add `auth: {api_keys: keys.txt}` to the route, or use `by: ip`"))
            }
            if route.rateLimit?.by == .jwtSub, route.auth?.kind != "jwt", config.policies.isEmpty {
                out.append(.warning(at: route.location, "`rate_limit.by: jwt_sub` without any token check: no token is verified on this route (no `auth: {jwt}`, no `policies:`), so it is limited per client address",
                                    hint: "add `auth: {jwt: ns/name}` to the route to require a token"))
            }
        }
        for s in config.services where s.record && s.protocol != .http {
            out.append(.warning(at: s.origin.protocol ?? s.origin.yamlKey,
                                "`record: true` of service `\(s.name)` has no effect: only `protocol: http` exchanges are recorded",
                                hint: "remove `record`, or record this service's HTTP traffic at the gateway"))
        }
        return out
    }
}
