import Yams

/// Reads `devmesh.yaml` into the config model. Every key of PRODUCT.md's schema is known and
/// type-checked; services without `run:` get an empty command (the Procfile may give it).
public enum DevMeshYAML {
    static let topLevelKeys = [
        "services", "gateway", "external", "admin", "policies", "policy_normalization",
        "mtls", "env_file", "telemetry", "recording", "replay",
    ]
    static let serviceKeys = [
        "run", "port", "replicas", "env", "env_file", "health", "needs", "restart", "labels",
        "namespace", "upstreams", "protocol", "egress_proxy", "balancer", "timeouts", "retries", "record", "redact",
        "openapi",
    ]
    static let timeoutKeys = ["connect", "request", "idle"]
    static let retryKeys = ["attempts", "budget"]
    static let healthKeys = ["http", "tcp", "interval", "timeout", "start_period"]
    static let gatewayKeys = ["https_port", "http_port", "hosts", "auto_hosts", "routes", "http_mode"]
    static let routeKeys = ["path", "host", "to", "strip_prefix", "cache", "rate_limit", "cors", "auth", "record",
                            "redact", "headers", "response_headers", "version", "deprecated", "rewrite", "compress", "aggregate"]
    static let aggregateCallKeys = ["to", "path", "timeout"]
    static let compressKeys = ["min_size"]
    static let versionKeys = ["header", "value"]
    static let deprecatedKeys = ["sunset", "link"]
    static let headerEditKeys = ["add", "remove", "rename"]
    static let rateLimitKeys = ["requests", "per", "by"]
    static let corsKeys = ["origins", "methods", "headers", "expose_headers", "credentials", "max_age"]
    static let authKeys = ["api_keys", "jwt", "basic"]
    static let externalKeys = ["url", "ca", "headers", "timeout", "retries", "mode", "match", "circuit_breaker"]
    static let externalMatchKeys = ["headers", "body"]
    static let breakerKeys = ["failures", "open_for"]
    static let adminKeys = ["port"]
    static let telemetryKeys = ["otlp_port", "otlp_export", "retention"]
    static let retentionKeys = ["max_age", "max_size"]
    static let recordingKeys = ["max_body", "redact_headers", "redact_fields", "redact_query"]
    static let replayKeys = ["auth", "ignore", "ignore_headers"]
    static let replayAuthKeys = ["bearer", "headers"]

    /// Parses the text of a devmesh.yaml. `root` becomes `StackConfig.root`.
    public static func parse(_ text: String, file: String, root: String) -> (StackConfig, [Diagnostic]) {
        var config = StackConfig(root: root)
        config.origin.files = [file]
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            return (config, [syntaxDiagnostic(error, text: text, file: file)])
        }
        guard let node else { return (config, []) }  // an empty file is an empty config
        var reader = YAMLReader(file: file)
        guard let top = reader.mapping(node, what: "devmesh.yaml", allowed: topLevelKeys) else {
            return (config, reader.diagnostics)
        }
        for (key, keyNode, value) in top {
            config.origin.sections[key] = reader.location(of: keyNode)
            switch key {
            case "services": config.services = parseServices(value, reader: &reader)
            case "gateway": config.gateway = parseGateway(value, reader: &reader, origin: &config.origin)
            case "external": config.externals = parseExternals(value, reader: &reader)
            case "admin":
                if let pairs = reader.mapping(value, what: "`admin`", allowed: adminKeys) {
                    for (k, kn, v) in pairs where k == "port" {
                        config.admin.port = reader.port(v, what: "`admin.port`")
                        config.origin.adminPort = reader.location(of: kn)
                    }
                }
            case "policies":
                config.policies = reader.stringList(value, what: "`policies`")?.map(\.0) ?? []
            case "policy_normalization":
                config.policyNormalization = reader.enumValue(value, what: "`policy_normalization`", as: PolicyNormalization.self) ?? .base
            case "mtls":
                config.mtls = reader.enumValue(value, what: "`mtls`", as: MTLSMode.self) ?? .permissive
            case "env_file":
                config.envFile = reader.string(value, what: "`env_file`", hint: "give the path of a dotenv file, e.g. `.env`")
                config.origin.envFile = reader.location(of: value)
            case "recording": config.recording = parseRecording(value, reader: &reader)
            case "replay": config.replay = parseReplay(value, reader: &reader)
            case "telemetry":
                if let pairs = reader.mapping(value, what: "`telemetry`", allowed: telemetryKeys) {
                    for (k, kn, v) in pairs {
                        switch k {
                        case "otlp_port":
                            config.telemetry.otlpPort = reader.port(v, what: "`telemetry.otlp_port`")
                            config.origin.otlpPort = reader.location(of: kn)
                        case "retention":
                            if let pairs = reader.mapping(v, what: "`telemetry.retention`", allowed: retentionKeys) {
                                for (rk, _, rv) in pairs {
                                    if rk == "max_age" {
                                        config.telemetry.retentionMaxAge = reader.duration(rv, what: "`telemetry.retention.max_age`")
                                    } else {
                                        config.telemetry.retentionMaxBytes = reader.byteSize(rv, what: "`telemetry.retention.max_size`")
                                    }
                                }
                            }
                        default:
                            if let url = reader.string(v, what: "`telemetry.otlp_export`") {
                                if OTLPEndpoint(url) == nil {
                                    reader.error(v, "`telemetry.otlp_export` must be an http:// or https:// URL of an OTLP/HTTP collector, not `\(url)`",
                                                 hint: "e.g. `http://127.0.0.1:4318` (devmesh posts to /v1/traces and /v1/logs under it)")
                                } else {
                                    config.telemetry.otlpExport = url
                                }
                            }
                        }
                    }
                }
            default: break
            }
        }
        return (config, reader.diagnostics)
    }

    // MARK: - recording and replay

    static func parseRecording(_ node: Node, reader: inout YAMLReader) -> RecordingConfig {
        var recording = RecordingConfig()
        for (k, _, v) in reader.mapping(node, what: "`recording`", allowed: recordingKeys) ?? [] {
            let what = "`recording.\(k)`"
            switch k {
            case "max_body":
                if let size = reader.byteSize(v, what: what) {
                    if size > 64 << 20 {
                        reader.error(v, "\(what) must be at most 64MiB, not \(size) bytes",
                                     hint: "recordings live in SQLite; the default is 1MiB per body")
                    } else {
                        recording.maxBody = Int(size)
                    }
                }
            case "redact_headers": recording.redactHeaders = reader.stringList(v, what: what)?.map(\.0) ?? []
            case "redact_fields": recording.redactFields = reader.stringList(v, what: what)?.map(\.0) ?? []
            default: recording.redactQuery = reader.stringList(v, what: what)?.map(\.0) ?? []
            }
        }
        return recording
    }

    static func parseReplay(_ node: Node, reader: inout YAMLReader) -> ReplayConfig {
        var replay = ReplayConfig()
        for (k, _, v) in reader.mapping(node, what: "`replay`", allowed: replayKeys) ?? [] {
            switch k {
            case "auth":
                for (ak, _, av) in reader.mapping(v, what: "`replay.auth`", allowed: replayAuthKeys) ?? [] {
                    if ak == "bearer" {
                        replay.bearer = reader.string(av, what: "`replay.auth.bearer`", hint: "write the token, or `${VAR}` to take it from the environment")
                        replay.bearerLocation = reader.location(of: av)
                    } else {
                        replay.headers = reader.stringMap(av, what: "`replay.auth.headers`") ?? []
                    }
                }
            case "ignore":
                let rules = reader.stringList(v, what: "`replay.ignore`") ?? []
                replay.ignore = rules.map(\.0)
                replay.ignoreLocations = rules.map(\.1)
            default: replay.ignoreHeaders = reader.stringList(v, what: "`replay.ignore_headers`")?.map(\.0) ?? []
            }
        }
        return replay
    }

    // MARK: - services

    static func parseServices(_ node: Node, reader: inout YAMLReader) -> [ServiceConfig] {
        if reader.isNull(node) { return [] }
        guard let pairs = reader.mapping(node, what: "`services`", allowed: nil) else { return [] }
        var services: [ServiceConfig] = []
        for (name, keyNode, value) in pairs {
            var service = ServiceConfig(name: name, run: "")
            service.origin.yamlKey = reader.location(of: keyNode)
            let what = "service `\(name)`"
            if reader.isNull(value) {  // `users:` with nothing under it: a Procfile-only service named here
                services.append(service)
                continue
            }
            if case .scalar(let text) = value {  // `orders: python3 orders.py`, Procfile style
                reader.error(value, "\(what) must be a mapping, not the text \"\(text.string)\"",
                             hint: "write `\(name): {run: \(text.string)}`, or put the line `\(name): \(text.string)` in the Procfile")
                service.runLocation = reader.location(of: value)
                services.append(service)
                continue
            }
            guard let fields = reader.mapping(value, what: what, allowed: serviceKeys) else {
                services.append(service)
                continue
            }
            for (key, kn, v) in fields {
                let field = "`\(key)` of \(what)"
                switch key {
                case "run":
                    service.runLocation = reader.location(of: v)
                    if let run = reader.string(v, what: field, hint: "write the command as text, e.g. `run: python3 app.py`") {
                        service.run = run.trimmingWhitespace()
                        if service.run.isEmpty {
                            reader.error(v, "the command of \(what) is empty", hint: "write the command after `run:`")
                        }
                    }
                case "port":
                    service.port = reader.port(v, what: field)
                    service.origin.port = reader.location(of: v)
                case "replicas":
                    service.replicas = reader.int(v, what: field, range: 1...64, hint: "run between 1 and 64 replicas") ?? 1
                    service.origin.replicas = reader.location(of: v)
                case "env":
                    service.env = reader.stringMap(v, what: field) ?? []
                case "env_file":
                    service.envFile = reader.string(v, what: field, hint: "give the path of a dotenv file, e.g. `.env`")
                    service.origin.envFile = reader.location(of: v)
                case "health":
                    service.health = parseHealth(v, what: "`health` of \(what)", reader: &reader)
                case "needs":
                    let list = reader.stringList(v, what: field) ?? []
                    service.needs = list.map(\.0)
                    service.origin.needs = list.map(\.1)
                case "restart":
                    service.restart = reader.enumValue(v, what: field, as: RestartPolicy.self) ?? .onFailure
                case "labels":
                    let labels = reader.stringMap(v, what: field) ?? []
                    service.labels = Dictionary(labels.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
                case "namespace":
                    if let ns = reader.string(v, what: field) {
                        if ServiceName.isValid(ns) {
                            service.namespace = ns
                        } else {
                            reader.error(v, "namespace `\(ns)` is not a DNS-1123 label",
                                         hint: "use lower-case letters, digits and `-`, e.g. `\(ServiceName.suggestion(for: ns))`")
                        }
                    }
                case "upstreams":
                    let list = reader.stringList(v, what: field) ?? []
                    service.upstreams = list.map(\.0)
                    service.origin.upstreams = list.map(\.1)
                case "protocol":
                    service.protocol = reader.enumValue(v, what: field, as: ServiceProtocol.self) ?? .http
                    service.origin.protocol = reader.location(of: v)
                case "egress_proxy":
                    service.egressProxy = reader.bool(v, what: field) ?? false
                    service.origin.egressProxy = reader.location(of: kn)
                case "record": service.record = reader.bool(v, what: field) ?? false
                case "redact": service.redact = reader.bool(v, what: field) ?? true
                case "openapi":
                    if let file = reader.string(v, what: field) {
                        if file.isEmpty || file.contains("://") {
                            reader.error(v, "`openapi` is the path of an OpenAPI file (YAML or JSON), relative to the stack's folder, not `\(file)`",
                                         hint: "e.g. `openapi: api/users.yaml`; the gateway serves it at /_devmesh/docs/\(service.name)")
                        } else {
                            service.openapi = file
                            service.origin.openapi = reader.location(of: v)
                        }
                    }
                case "balancer":
                    service.balancer = reader.enumValue(v, what: field, as: BalancerChoice.self) ?? .p2cEWMA
                case "timeouts":
                    for (k, _, tv) in reader.mapping(v, what: field, allowed: timeoutKeys) ?? [] {
                        let d = reader.duration(tv, what: "`timeouts.\(k)` of \(what)")
                        switch k {
                        case "connect": service.timeouts.connect = d ?? service.timeouts.connect
                        case "request": service.timeouts.request = d ?? service.timeouts.request
                        default: service.timeouts.idle = d ?? service.timeouts.idle
                        }
                    }
                case "retries":
                    for (k, _, rv) in reader.mapping(v, what: field, allowed: retryKeys) ?? [] {
                        if k == "attempts" {
                            service.retries.attempts = reader.int(rv, what: "`retries.attempts` of \(what)", range: 0...10) ?? 2
                        } else {
                            service.retries.budget = reader.percentage(rv, what: "`retries.budget` of \(what)") ?? 0.2
                        }
                    }
                default: break
                }
            }
            services.append(service)
        }
        return services
    }

    static func parseHealth(_ node: Node, what: String, reader: inout YAMLReader) -> HealthCheck? {
        guard let fields = reader.mapping(node, what: what, allowed: healthKeys) else { return nil }
        var probe: HealthCheck.Probe?
        var probeCount = 0
        var check = HealthCheck(probe: .tcp)
        for (key, kn, v) in fields {
            switch key {
            case "http":
                probeCount += 1
                if let path = reader.string(v, what: "`http` of \(what)", hint: "give the path to GET, e.g. `http: /healthz`") {
                    if path.hasPrefix("/") {
                        probe = .http(path: path)
                    } else {
                        reader.error(v, "the health path must start with `/`, not `\(path)`", hint: "write it as `/\(path)`")
                    }
                }
            case "tcp":
                probeCount += 1
                if let on = reader.bool(v, what: "`tcp` of \(what)") {
                    if on { probe = .tcp } else {
                        reader.error(kn, "`tcp: false` does not say how to check health",
                                     hint: "use `tcp: true`, `http: /path`, or remove `health`")
                    }
                }
            case "interval": check.interval = reader.duration(v, what: "`interval` of \(what)") ?? check.interval
            case "timeout": check.timeout = reader.duration(v, what: "`timeout` of \(what)") ?? check.timeout
            case "start_period": check.startPeriod = reader.duration(v, what: "`start_period` of \(what)") ?? check.startPeriod
            default: break
            }
        }
        if probeCount == 0 {
            reader.error(node, "\(what) needs a probe: `http: /path` or `tcp: true`",
                         hint: "e.g. `health: {http: /healthz, interval: 2s}`")
            return nil
        }
        if probeCount > 1 {
            reader.error(node, "\(what) has both `http` and `tcp`", hint: "keep one of them")
            return nil
        }
        guard let probe else { return nil }
        check.probe = probe
        return check
    }

    // MARK: - gateway

    static func parseGateway(_ node: Node, reader: inout YAMLReader, origin: inout StackOrigin) -> GatewayConfig {
        var gateway = GatewayConfig(declared: true)
        guard let fields = reader.mapping(node, what: "`gateway`", allowed: gatewayKeys) else { return gateway }
        for (key, kn, v) in fields {
            switch key {
            case "https_port":
                gateway.httpsPort = reader.port(v, what: "`gateway.https_port`")
                origin.httpsPort = reader.location(of: kn)
            case "http_port":
                gateway.httpPort = reader.port(v, what: "`gateway.http_port`")
                origin.httpPort = reader.location(of: kn)
            case "hosts":
                if let hosts = reader.stringList(v, what: "`gateway.hosts`") {
                    gateway.hosts = []
                    for (host, at) in hosts {
                        if let problem = GatewayConfig.hostProblem(host) {
                            reader.diagnostics.append(.error(at: at, "`\(host)` in `gateway.hosts`: \(problem)", hint: "e.g. `hosts: [localhost, shop.localhost]`"))
                        } else {
                            gateway.hosts.append(host)
                        }
                    }
                }
            case "auto_hosts": gateway.autoHosts = reader.bool(v, what: "`gateway.auto_hosts`") ?? true
            case "http_mode": gateway.httpMode = reader.enumValue(v, what: "`gateway.http_mode`", as: GatewayConfig.HTTPMode.self) ?? .serve
            case "routes":
                guard case .sequence(let seq) = v else {
                    reader.error(v, "`gateway.routes` must be a list of routes, not \(YAMLReader.describe(v))",
                                 hint: "write each route as `- {path: /api, to: service}`")
                    continue
                }
                for item in seq {
                    if let route = parseRoute(item, reader: &reader) { gateway.routes.append(route) }
                }
            default: break
            }
        }
        return gateway
    }

    static func parseRoute(_ node: Node, reader: inout YAMLReader) -> RouteConfig? {
        let what = "a route of `gateway.routes`"
        guard let fields = reader.mapping(node, what: what, allowed: routeKeys) else { return nil }
        var route = RouteConfig(location: reader.location(of: node), to: "")
        var hasTo = false
        var rewriteNode: Node?
        var aggregateNode: Node?
        for (key, _, v) in fields {
            let field = "`\(key)` of \(what)"
            switch key {
            case "path":
                if let p = reader.string(v, what: field) {
                    if p.hasPrefix("/") { route.path = p } else {
                        reader.error(v, "a route path must start with `/`, not `\(p)`", hint: "write it as `/\(p)`")
                    }
                }
            case "host":
                route.host = reader.string(v, what: field)
                if let host = route.host, let problem = GatewayConfig.hostProblem(host) {
                    reader.error(v, "the route host `\(host)`: \(problem)", hint: "e.g. `host: orders.localhost`")
                    route.host = nil
                }
            case "to":
                if let to = reader.string(v, what: field) { route.to = to; hasTo = true }
            case "strip_prefix": route.stripPrefix = reader.bool(v, what: field) ?? false
            case "cache": route.cache = reader.bool(v, what: field) ?? false
            case "record": route.record = reader.bool(v, what: field) ?? true
            case "redact": route.redact = reader.bool(v, what: field) ?? true
            case "rewrite":
                if let r = reader.string(v, what: field) {
                    if r.hasPrefix("/"), !r.contains("?"), !r.contains("#"), r.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) { route.rewrite = r } else {
                        reader.error(v, "`rewrite` of \(what) must be a path starting with `/` (no query), not `\(r)`",
                                     hint: "e.g. `rewrite: /users/{id}`; the request's query is kept as it is")
                    }
                }
                rewriteNode = v
            case "version":
                if case .scalar = v, let value = reader.string(v, what: field) {
                    route.version = RouteVersion(value: value)
                } else if let pairs = reader.mapping(v, what: field, allowed: versionKeys) {
                    var version = RouteVersion(value: "")
                    for (vk, _, vv) in pairs {
                        if vk == "header" {
                            let name = reader.string(vv, what: "`version.header`") ?? version.header
                            if HeaderEdits.isFieldName(name), !HeaderEdits.isProtected(name) { version.header = name } else {
                                reader.error(vv, "`version.header` must be a header name such as X-Api-Version, not `\(name)`")
                            }
                        } else { version.value = reader.string(vv, what: "`version.value`") ?? "" }
                    }
                    if version.value.isEmpty {
                        reader.error(v, "`version` of \(what) needs a `value`", hint: "e.g. `version: {header: Accept-Version, value: v2}`, or `version: v2`")
                    } else {
                        route.version = version
                    }
                }
            case "aggregate":
                aggregateNode = v
                guard let calls = reader.mapping(v, what: field, allowed: nil) else { break }
                var parsed: [AggregateCall] = []
                for (name, nameNode, callNode) in calls {
                    let callWhat = "`aggregate.\(name)`"
                    guard name.count <= 64, name.utf8.allSatisfy({ HeaderEdits.isFieldName(String(UnicodeScalar($0))) && $0 != UInt8(ascii: ".") }) else {
                        reader.error(nameNode, "\(callWhat): a key of the merged JSON is letters, digits, `-` and `_`", hint: "e.g. `user:`")
                        continue
                    }
                    guard let pairs = reader.mapping(callNode, what: callWhat, allowed: aggregateCallKeys) else { continue }
                    var call = AggregateCall(name: name, to: "", path: "/", location: reader.location(of: nameNode))
                    var hasCallTo = false
                    for (ck, _, cv) in pairs {
                        switch ck {
                        case "to": if let t = reader.string(cv, what: "`\(name).to`") { call.to = t; hasCallTo = true }
                        case "path":
                            if let p = reader.string(cv, what: "`\(name).path`") {
                                if p.hasPrefix("/"), !p.contains("#"), p.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) { call.path = p } else {
                                    reader.error(cv, "`\(name).path` must be a path starting with `/`, not `\(p)`", hint: "e.g. `path: /users/{id}`")
                                }
                            }
                        default:
                            if let d = reader.duration(cv, what: "`\(name).timeout`") { call.timeout = d }
                        }
                    }
                    if !hasCallTo { reader.error(callNode, "\(callWhat) has no `to`", hint: "name the service to ask, e.g. `to: users`") } else { parsed.append(call) }
                }
                if parsed.count > 16 { reader.error(v, "an aggregate route asks at most 16 services at once, not \(parsed.count)", hint: "split it") }
                route.aggregate = parsed
            case "compress":
                if case .scalar = v {
                    if reader.bool(v, what: field) == true { route.compress = CompressionConfig() }
                } else if let pairs = reader.mapping(v, what: field, allowed: compressKeys) {
                    var compress = CompressionConfig()
                    for (_, _, cv) in pairs {
                        if let size = reader.byteSize(cv, what: "`compress.min_size`") {
                            if size > 64 << 20 {
                                reader.error(cv, "`compress.min_size` must be at most 64MiB, not \(size) bytes", hint: "the default is 1KiB")
                            } else {
                                compress.minSize = Int(size)
                            }
                        }
                    }
                    route.compress = compress
                }
            case "deprecated":
                if case .scalar = v {
                    if reader.bool(v, what: field) == true { route.deprecation = RouteDeprecation() }
                } else if let pairs = reader.mapping(v, what: field, allowed: deprecatedKeys) {
                    var deprecation = RouteDeprecation()
                    for (dk, _, dv) in pairs {
                        guard let text = reader.string(dv, what: "`deprecated.\(dk)`") else { continue }
                        if dk == "link" {
                            if HeaderEdits.isFieldValue(text), !text.contains(">"), !text.contains("<") { deprecation.link = text } else {
                                reader.error(dv, "`deprecated.link` must be a URL without control characters or `<>`", hint: "e.g. `link: https://docs.example/v2`")
                            }
                        } else if let date = RouteDeprecation.httpDate(text) {
                            deprecation.sunset = date
                        } else {
                            reader.error(dv, "`deprecated.sunset` must be a date such as 2027-06-30, not `\(text)`",
                                         hint: "the day this version stops answering (sent as the `Sunset` field)")
                        }
                    }
                    route.deprecation = deprecation
                }
            case "headers": route.requestHeaders = parseHeaderEdits(v, what: "`headers` of \(what)", reader: &reader)
            case "response_headers": route.responseHeaders = parseHeaderEdits(v, what: "`response_headers` of \(what)", reader: &reader)
            case "rate_limit":
                guard let rl = reader.mapping(v, what: field, allowed: rateLimitKeys) else { continue }
                var requests: Int?, per: Duration?, by = RateLimitConfig.Key.ip
                for (k, _, rv) in rl {
                    switch k {
                    case "requests": requests = reader.int(rv, what: "`rate_limit.requests`", range: 1...1_000_000_000)
                    case "per": per = reader.duration(rv, what: "`rate_limit.per`")
                    default: by = reader.enumValue(rv, what: "`rate_limit.by`", as: RateLimitConfig.Key.self) ?? .ip
                    }
                }
                if let requests, let per {
                    route.rateLimit = RateLimitConfig(requests: requests, per: per, by: by)
                } else if requests == nil || per == nil {
                    reader.error(v, "`rate_limit` needs both `requests` and `per`",
                                 hint: "e.g. `rate_limit: {requests: 100, per: 1m, by: ip}`")
                }
            case "cors":
                guard let c = reader.mapping(v, what: field, allowed: corsKeys) else { continue }
                var cors = CORSConfig(origins: [])
                var originsNode: Node?
                for (ck, _, cv) in c {
                    switch ck {
                    case "origins":
                        originsNode = cv
                        for (origin, _) in reader.stringList(cv, what: "`cors.origins`") ?? [] {
                            if let problem = CORSPolicy.problem(withOrigin: origin) {
                                reader.error(cv, "`cors.origins`: \(problem)")
                            } else {
                                cors.origins.append(origin)
                            }
                        }
                    case "methods", "headers", "expose_headers":
                        let names = reader.stringList(cv, what: "`cors.\(ck)`")?.map(\.0) ?? []
                        if let bad = names.first(where: { !HeaderEdits.isFieldName($0) }) {
                            reader.error(cv, "`cors.\(ck)`: `\(bad)` is not a \(ck == "methods" ? "method" : "header name")",
                                         hint: ck == "methods" ? "e.g. `methods: [GET, POST]`" : "e.g. `\(ck): [content-type]`")
                        }
                        let good = names.filter(HeaderEdits.isFieldName)
                        switch ck {
                        case "methods": cors.methods = good.map { $0.uppercased() }
                        case "headers": cors.headers = good
                        default: cors.exposeHeaders = good
                        }
                    case "credentials": cors.credentials = reader.bool(cv, what: "`cors.credentials`") ?? false
                    default: cors.maxAge = reader.duration(cv, what: "`cors.max_age`")
                    }
                }
                if cors.credentials, cors.origins.contains("*") {
                    reader.error(originsNode ?? v, "`cors.origins: [\"*\"]` with `credentials: true`: browsers refuse a wildcard origin with credentials",
                                 hint: "list the origins that may send credentials, e.g. `origins: [\"http://localhost:3000\"]`")
                }
                if originsNode == nil {
                    reader.error(v, "`cors` needs `origins`: the origins allowed to call this route", hint: "e.g. `cors: {origins: [\"http://localhost:3000\"]}`")
                }
                route.cors = cors
            case "auth":
                guard let a = reader.mapping(v, what: field, allowed: authKeys) else { continue }
                if a.count != 1 {
                    reader.error(v, "`auth` takes exactly one of api_keys, jwt, basic", hint: "keep one of them")
                    continue
                }
                let (k, _, av) = a[0]
                guard let value = reader.string(av, what: "`auth.\(k)`") else { continue }
                switch k {
                case "api_keys": route.auth = .apiKeys(file: value)
                case "jwt":
                    if value.split(separator: "/").count == 2 {
                        route.auth = .jwt(reference: value)
                    } else {
                        reader.error(av, "`auth.jwt` must name a RequestAuthentication as namespace/name, not `\(value)`",
                                     hint: "e.g. `jwt: default/api-jwt`")
                    }
                default: route.auth = .basic(htpasswd: value)
                }
            default: break
            }
        }
        if let aggregateNode {
            if hasTo {
                reader.error(aggregateNode, "\(what) has both `to` and `aggregate`", hint: "an aggregate route asks the services its calls name: drop `to`")
            }
            for (key, bad) in [("rewrite", route.rewrite != nil), ("strip_prefix", route.stripPrefix), ("cache", route.cache), ("version", route.version != nil)] where bad {
                reader.error(aggregateNode, "`\(key)` has no meaning on an aggregate route (it answers itself)", hint: "remove `\(key)`")
            }
            if route.aggregate?.isEmpty ?? true { reader.error(aggregateNode, "`aggregate` names no call", hint: "e.g. `aggregate: {user: {to: users, path: /users/{id}}}`") }
        } else if !hasTo {
            reader.error(node, "\(what) has no `to`", hint: "name the service that serves it, e.g. `to: users` (or fan out with `aggregate:`)")
            return nil
        }
        // `{name}` segments of `path` are what `rewrite` and aggregate calls may use.
        let captures = PathPattern(route.path ?? "/")
        for call in route.aggregate ?? [] {
            for name in PathPattern.placeholders(in: call.path) where !captures.names.contains(name) {
                reader.error(aggregateNode ?? node, "`aggregate.\(call.name).path` uses `{\(name)}`, which the route's path does not capture",
                             hint: "capture it in `path`, e.g. `path: /api/summary/{\(name)}`")
            }
        }
        if let problem = captures.problem {
            reader.error(node, "the route path `\(route.path ?? "/")`: \(problem)", hint: "a capture is a whole segment, e.g. `path: /api/v1/users/{id}`")
        } else if let rewrite = route.rewrite, let rewriteNode {
            if route.stripPrefix {
                reader.error(rewriteNode, "`rewrite` and `strip_prefix` of \(what) both change the path", hint: "keep `rewrite` (it replaces the matched prefix)")
            }
            for name in PathPattern.placeholders(in: rewrite) where !captures.names.contains(name) {
                reader.error(rewriteNode, "`rewrite` uses `{\(name)}`, which the route's path does not capture",
                             hint: captures.names.isEmpty ? "capture it in `path`, e.g. `path: /api/users/{\(name)}`" : "the path captures: \(captures.names.map { "{\($0)}" }.joined(separator: ", "))")
            }
        } else if !captures.names.isEmpty, route.rewrite == nil, !route.stripPrefix {
            // Captures without a rewrite just match any segment there; the path goes on as it came.
        }
        if route.path == nil, route.host == nil {
            reader.error(node, "\(what) matches nothing: it has neither `path` nor `host`",
                         hint: "add `path: /prefix` or `host: name.localhost`")
        }
        return route
    }

    static func parseHeaderEdits(_ node: Node, what: String, reader: inout YAMLReader) -> HeaderEdits {
        var edits = HeaderEdits()
        guard let fields = reader.mapping(node, what: what, allowed: headerEditKeys) else { return edits }
        for (key, _, v) in fields {
            if key == "rename" {
                for entry in reader.stringMap(v, what: "`rename` of \(what)") ?? [] {
                    if HeaderEdits.isProtected(entry.name) || HeaderEdits.isProtected(entry.value) {
                        reader.error(v, "`rename` of \(what) may not touch `\(HeaderEdits.isProtected(entry.name) ? entry.name : entry.value)`",
                                     hint: "framing, hop-by-hop and forwarding fields are the gateway's: \(HeaderEdits.protectedNames.sorted().joined(separator: ", "))")
                    } else if HeaderEdits.isFieldName(entry.name), HeaderEdits.isFieldName(entry.value) {
                        edits.rename.append((entry.name, entry.value))
                    } else {
                        reader.error(v, "`\(entry.name): \(entry.value)` in `rename` of \(what) is not a pair of header names",
                                     hint: "e.g. `rename: {X-User: X-Account}` (the old name, then the new)")
                    }
                }
            } else if key == "add" {
                for entry in reader.stringMap(v, what: "`add` of \(what)") ?? [] {
                    if HeaderEdits.isProtected(entry.name) {
                        reader.error(v, "`add` of \(what) may not set `\(entry.name)`",
                                     hint: "framing, hop-by-hop and forwarding fields are the gateway's: \(HeaderEdits.protectedNames.sorted().joined(separator: ", "))")
                    } else if HeaderEdits.isFieldName(entry.name), HeaderEdits.isFieldValue(entry.value) {
                        edits.add.append((entry.name, entry.value))
                    } else {
                        reader.error(v, "`\(entry.name)` in `add` of \(what) is not a valid header field",
                                     hint: "names are tokens (letters, digits, `-`); values have no control characters or line breaks")
                    }
                }
            } else {
                for (name, _) in reader.stringList(v, what: "`remove` of \(what)") ?? [] {
                    if HeaderEdits.isProtected(name) {
                        reader.error(v, "`remove` of \(what) may not drop `\(name)`",
                                     hint: "framing, hop-by-hop and forwarding fields are the gateway's")
                    } else if HeaderEdits.isFieldName(name) { edits.remove.append(name) } else {
                        reader.error(v, "`\(name)` in `remove` of \(what) is not a header name", hint: "e.g. `remove: [X-Debug]`")
                    }
                }
            }
        }
        return edits
    }

    // MARK: - external

    static func parseExternals(_ node: Node, reader: inout YAMLReader) -> [ExternalConfig] {
        guard let pairs = reader.mapping(node, what: "`external`", allowed: nil) else { return [] }
        var out: [ExternalConfig] = []
        for (name, kn, v) in pairs {
            let what = "external `\(name)`"
            guard let fields = reader.mapping(v, what: what, allowed: externalKeys) else { continue }
            var ext = ExternalConfig(name: name, location: reader.location(of: kn), url: "")
            var hasURL = false
            for (key, _, fv) in fields {
                switch key {
                case "url":
                    if let url = reader.string(fv, what: "`url` of \(what)") {
                        ext.urlLocation = reader.location(of: fv)
                        if ExternalURL(url) != nil {
                            ext.url = url
                            hasURL = true
                        } else if url.hasPrefix("http://") || url.hasPrefix("https://") {
                            reader.error(fv, "`url` of \(what) is not a usable base URL: `\(url)`",
                                         hint: "scheme, host, optional port and path, without query, fragment or user, e.g. `https://api.example.com/v1`")
                        } else {
                            reader.error(fv, "`url` of \(what) must start with http:// or https://, not `\(url)`",
                                         hint: "e.g. `url: https://api.example.com`")
                        }
                    }
                case "ca":
                    ext.ca = reader.string(fv, what: "`ca` of \(what)", hint: "a PEM file of the roots to trust, e.g. `ca: certs/staging-ca.pem`")
                    ext.caLocation = reader.location(of: fv)
                case "headers": ext.headers = reader.stringMap(fv, what: "`headers` of \(what)") ?? []
                case "timeout": ext.timeout = reader.duration(fv, what: "`timeout` of \(what)") ?? ext.timeout
                case "retries": ext.retries = reader.int(fv, what: "`retries` of \(what)", range: 0...10) ?? ext.retries
                case "match":
                    for (mk, _, mv) in reader.mapping(fv, what: "`match` of \(what)", allowed: externalMatchKeys) ?? [] {
                        let names = (reader.stringList(mv, what: "`match.\(mk)` of \(what)") ?? []).map(\.0)
                        if mk == "headers" { ext.match.headers = names } else { ext.match.body = names }
                    }
                case "circuit_breaker":
                    for (bk, _, bv) in reader.mapping(fv, what: "`circuit_breaker` of \(what)", allowed: breakerKeys) ?? [] {
                        if bk == "failures" {
                            ext.breaker.failures = reader.int(bv, what: "`circuit_breaker.failures` of \(what)", range: 1...1000) ?? ext.breaker.failures
                        } else {
                            ext.breaker.openFor = reader.duration(bv, what: "`circuit_breaker.open_for` of \(what)") ?? ext.breaker.openFor
                        }
                    }
                default: ext.mode = reader.enumValue(fv, what: "`mode` of \(what)", as: ExternalConfig.Mode.self) ?? .live
                }
            }
            if !hasURL, !fields.contains(where: { $0.key == "url" }) {
                reader.error(kn, "\(what) has no `url`", hint: "add `url: https://…` with the service's base URL")
            }
            out.append(ext)
        }
        return out
    }

    // MARK: - syntax errors

    static func syntaxDiagnostic(_ error: Error, text: String, file: String) -> Diagnostic {
        guard let yamlError = error as? YamlError else {
            return .error(at: SourceLocation(file: file, line: 1, column: 1), "cannot read this YAML: \(error)")
        }
        switch yamlError {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let ctx = context.map { " (\($0.text))" } ?? ""
            return .error(at: SourceLocation(file: file, line: mark.line, column: mark.column),
                          "YAML syntax error: \(problem)\(ctx)",
                          hint: "check the indentation and the `key: value` form around this line; tabs are not allowed for indentation")
        case let .duplicatedKeysInMapping(duplicates, context):
            let key = duplicates.first ?? "?"
            let second = secondOccurrence(of: key, afterLine: context.mark.line, column: context.mark.column, in: text)
            let at = second ?? (context.mark.line, context.mark.column)
            let what = second == nil ? "duplicate key `\(key)`" : "duplicate key `\(key)` (first defined at line \(context.mark.line))"
            return .error(at: SourceLocation(file: file, line: at.0, column: at.1), what,
                          hint: "each key may appear once in a mapping; merge the two entries or rename one")
        case let .reader(problem, _, _, _):
            return .error(at: SourceLocation(file: file, line: 1, column: 1), "cannot read this file: \(problem)",
                          hint: "save it as UTF-8 text")
        default:
            return .error(at: SourceLocation(file: file, line: 1, column: 1), "cannot read this YAML: \(yamlError)")
        }
    }

    /// Yams reports the first of two duplicate keys; users need the second, which is the one to fix.
    static func secondOccurrence(of key: String, afterLine: Int, column: Int, in text: String) -> (Int, Int)? {
        let lines = text.sourceLines
        for (i, line) in lines.enumerated() where i + 1 > afterLine {
            let indent = line.prefix { $0 == " " }.count
            guard indent + 1 == column else { continue }
            let rest = line.dropFirst(indent)
            for candidate in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(candidate + ":") {
                return (i + 1, indent + 1)
            }
        }
        return nil
    }
}
