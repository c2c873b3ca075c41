import DevMeshCore
import Yams

/// The Istio security documents of one YAML file (several may be separated by `---`): every
/// problem reported with file:line:column, and everything valid kept — a broken document does not
/// hide the good ones beside it.
public struct PolicyDocuments: Sendable, Equatable {
    public var authorizationPolicies: [AuthorizationPolicy] = []
    public var requestAuthentications: [RequestAuthentication] = []
    public var diagnostics: [Diagnostic] = []

    public init() {}

    static let apiVersions = ["security.istio.io/v1", "security.istio.io/v1beta1"]

    public static func parse(_ text: String, file: String) -> PolicyDocuments {
        var out = PolicyDocuments()
        var reader = YAMLReader(file: file)
        var nodes: [Node] = []
        do {
            let parser = try Parser(yaml: text)
            while let node = try parser.nextRoot() { nodes.append(node) }
        } catch {
            out.diagnostics.append(.error(at: SourceLocation(file: file, line: 1, column: 1), "not valid YAML: \(error)"))
            return out
        }
        for node in nodes where !reader.isNull(node) {
            out.read(document: node, reader: &reader)
        }
        out.diagnostics += reader.diagnostics
        return out
    }

    mutating func read(document node: Node, reader: inout YAMLReader) {
        guard let top = reader.mapping(node, what: "a policy document", allowed: ["apiVersion", "kind", "metadata", "spec"]) else { return }
        func value(_ key: String) -> Node? { top.first { $0.key == key }?.value }
        guard let kindNode = value("kind"), let kind = reader.string(kindNode, what: "`kind`") else {
            reader.error(node, "a policy document needs `kind: AuthorizationPolicy` or `kind: RequestAuthentication`")
            return
        }
        guard kind == "AuthorizationPolicy" || kind == "RequestAuthentication" else {
            reader.warning(kindNode, "`kind: \(kind)` is not a policy devmesh evaluates; skipped",
                           hint: "devmesh reads AuthorizationPolicy and RequestAuthentication (security.istio.io)")
            return
        }
        if let versionNode = value("apiVersion"), let version = reader.string(versionNode, what: "`apiVersion`"),
           !Self.apiVersions.contains(version) {
            reader.error(versionNode, "`apiVersion: \(version)` is not one devmesh reads", hint: "use security.istio.io/v1 (or v1beta1)")
            return
        }
        var name = "", namespace = "default", dryRun = false
        if let meta = value("metadata"), let pairs = reader.mapping(meta, what: "`metadata`", allowed: nil) {
            for (key, keyNode, v) in pairs {
                switch key {
                case "name": name = reader.string(v, what: "`metadata.name`") ?? ""
                case "namespace": namespace = reader.string(v, what: "`metadata.namespace`") ?? "default"
                case "annotations":
                    for (k, _, av) in reader.mapping(v, what: "`metadata.annotations`", allowed: nil) ?? [] where k == "istio.io/dry-run" {
                        dryRun = reader.scalarText(av, what: "`istio.io/dry-run`")?.lowercased() == "true"
                    }
                case "labels", "uid", "resourceVersion", "generation", "creationTimestamp": break
                default: reader.warning(keyNode, "`metadata.\(key)` is ignored")
                }
            }
        }
        guard !name.isEmpty else {
            reader.error(node, "the \(kind) has no `metadata.name`", hint: "name it: metadata: {name: orders-read, namespace: default}")
            return
        }
        let spec = value("spec")
        let location = reader.location(of: node)
        if kind == "AuthorizationPolicy" {
            if var policy = readAuthorization(spec, reader: &reader) {
                policy.name = name
                policy.namespace = namespace
                policy.dryRun = dryRun
                policy.location = location
                authorizationPolicies.append(policy)
            }
        } else if var auth = readAuthentication(spec, reader: &reader) {
            auth.name = name
            auth.namespace = namespace
            auth.location = location
            requestAuthentications.append(auth)
        }
    }

    // MARK: AuthorizationPolicy

    func readAuthorization(_ spec: Node?, reader: inout YAMLReader) -> AuthorizationPolicy? {
        var policy = AuthorizationPolicy(name: "")
        guard let spec, !reader.isNull(spec) else { return policy }  // `spec` absent or empty: allow-nothing
        guard let pairs = reader.mapping(spec, what: "`spec`", allowed: ["selector", "targetRef", "targetRefs", "action", "provider", "rules"]) else {
            return nil
        }
        var ok = true
        for (key, keyNode, v) in pairs {
            switch key {
            case "selector": policy.selector = readSelector(v, reader: &reader)
            case "targetRef", "targetRefs":
                reader.warning(keyNode, "`\(key)` (Gateway API targets) is not supported; the policy applies by namespace and selector only")
            case "action":
                guard let action = reader.enumValue(v, what: "`action`", as: AuthorizationPolicy.Action.self) else { ok = false; continue }
                policy.action = action
            case "provider":
                for (k, _, pv) in reader.mapping(v, what: "`provider`", allowed: ["name"]) ?? [] where k == "name" {
                    policy.provider = reader.string(pv, what: "`provider.name`")
                }
            case "rules":
                guard case .sequence(let seq) = v else {
                    reader.error(v, "`rules` must be a list, not \(YAMLReader.describe(v))")
                    ok = false
                    continue
                }
                policy.rules = seq.map { readRule($0, reader: &reader) }
            default: break
            }
        }
        if policy.action == .deny, policy.rules.isEmpty {
            reader.warning(spec, "a DENY policy without `rules` never matches anything (Istio: \"meaningless\")",
                           hint: "add `rules: [{}]` to deny everything, or the rules that should deny")
        }
        if policy.action == .custom, policy.provider == nil {
            reader.error(spec, "a CUSTOM policy needs `provider: {name: …}`")
            ok = false
        }
        if policy.action != .custom, policy.provider != nil {
            reader.error(spec, "`provider` is only for `action: CUSTOM`")
            ok = false
        }
        return ok ? policy : nil
    }

    func readSelector(_ node: Node, reader: inout YAMLReader) -> [String: String]? {
        var labels: [String: String] = [:]
        for (key, _, v) in reader.mapping(node, what: "`selector`", allowed: ["matchLabels"]) ?? [] where key == "matchLabels" {
            for label in reader.stringMap(v, what: "`selector.matchLabels`") ?? [] { labels[label.name] = label.value }
        }
        return labels
    }

    /// Any error inside a rule (a misspelt field, a bad value) makes the rule fail closed: a typo
    /// must never widen an ALLOW (`form:` read as no `from`) nor silence a DENY.
    func readRule(_ node: Node, reader: inout YAMLReader) -> AuthorizationPolicy.Rule {
        let errorsBefore = reader.diagnostics.filter { $0.severity == .error }.count
        var rule = readRuleFields(node, reader: &reader)
        if reader.diagnostics.filter({ $0.severity == .error }).count > errorsBefore, rule.unsupported.isEmpty {
            rule.unsupported.append("a rule with errors")
        }
        return rule
    }

    func readRuleFields(_ node: Node, reader: inout YAMLReader) -> AuthorizationPolicy.Rule {
        var rule = AuthorizationPolicy.Rule()
        guard !reader.isNull(node), let pairs = reader.mapping(node, what: "a rule", allowed: ["from", "to", "when"]) else {
            if !reader.isNull(node) { rule.unsupported.append("an unreadable rule") }
            return rule
        }
        for (key, _, v) in pairs {
            guard case .sequence(let items) = v else {
                reader.error(v, "`\(key)` must be a list, not \(YAMLReader.describe(v))")
                rule.unsupported.append("`\(key)`")
                continue
            }
            if items.isEmpty {
                reader.error(v, "`\(key)` is an empty list; Istio refuses it", hint: "give at least one entry, or drop `\(key)`")
                rule.unsupported.append("an empty `\(key)`")
            }
            for item in items {
                switch key {
                case "from":
                    if let source = readSource(item, reader: &reader, rule: &rule) { rule.from.append(source) }
                case "to":
                    if let operation = readOperation(item, reader: &reader, rule: &rule) { rule.to.append(operation) }
                default:
                    if let condition = readCondition(item, reader: &reader, rule: &rule) { rule.when.append(condition) }
                }
            }
        }
        return rule
    }

    /// `from: [{source: {...}}]`.
    func readSource(_ node: Node, reader: inout YAMLReader, rule: inout AuthorizationPolicy.Rule) -> AuthorizationPolicy.Source? {
        guard let wrapper = reader.mapping(node, what: "a `from` entry", allowed: ["source"]), let body = wrapper.first?.value else { return nil }
        let fields = ["principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces",
                      "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts"]
        var s = AuthorizationPolicy.Source()
        let sourceFields = reader.mapping(body, what: "`source`", allowed: fields) ?? []
        if sourceFields.isEmpty {
            reader.error(body, "`source` sets no field; Istio refuses an empty source",
                         hint: "name principals, namespaces, ipBlocks… or drop the `from` entry")
            rule.unsupported.append("an empty `source`")
        }
        for (key, keyNode, v) in sourceFields {
            let values = list(v, key, reader: &reader)
            if key.lowercased().contains("ipblocks") { check(values, in: key, .address, reader: &reader, rule: &rule) }
            switch key {
            case "principals": s.principals = values.texts
            case "notPrincipals": s.notPrincipals = values.texts
            case "requestPrincipals": s.requestPrincipals = values.texts
            case "notRequestPrincipals": s.notRequestPrincipals = values.texts
            case "namespaces": s.namespaces = values.texts
            case "notNamespaces": s.notNamespaces = values.texts
            case "ipBlocks": s.ipBlocks = values.texts
            case "notIpBlocks": s.notIpBlocks = values.texts
            case "remoteIpBlocks": s.remoteIpBlocks = values.texts
            case "notRemoteIpBlocks": s.notRemoteIpBlocks = values.texts
            default:
                reader.warning(keyNode, "`\(key)` (Istio 1.24+) is not supported yet; this rule fails closed")
                rule.unsupported.append("`\(key)`")
            }
        }
        return s
    }

    /// `to: [{operation: {...}}]`.
    func readOperation(_ node: Node, reader: inout YAMLReader, rule: inout AuthorizationPolicy.Rule) -> AuthorizationPolicy.Operation? {
        guard let wrapper = reader.mapping(node, what: "a `to` entry", allowed: ["operation"]), let body = wrapper.first?.value else { return nil }
        let fields = ["hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"]
        var o = AuthorizationPolicy.Operation()
        let operationFields = reader.mapping(body, what: "`operation`", allowed: fields) ?? []
        if operationFields.isEmpty {
            reader.error(body, "`operation` sets no field; Istio refuses an empty operation",
                         hint: "name hosts, ports, methods, paths… or drop the `to` entry")
            rule.unsupported.append("an empty `operation`")
        }
        for (key, _, v) in operationFields {
            let values = list(v, key, reader: &reader)
            if key == "ports" || key == "notPorts" { check(values, in: key, .port, reader: &reader, rule: &rule) }
            if key == "paths" || key == "notPaths" { check(values, in: key, .path, reader: &reader, rule: &rule) }
            switch key {
            case "hosts": o.hosts = values.texts
            case "notHosts": o.notHosts = values.texts
            case "ports": o.ports = values.texts
            case "notPorts": o.notPorts = values.texts
            case "methods": o.methods = values.texts
            case "notMethods": o.notMethods = values.texts
            case "paths": o.paths = values.texts
            default: o.notPaths = values.texts
            }
        }
        return o
    }

    func readCondition(_ node: Node, reader: inout YAMLReader, rule: inout AuthorizationPolicy.Rule) -> AuthorizationPolicy.Condition? {
        guard let pairs = reader.mapping(node, what: "a `when` entry", allowed: ["key", "values", "notValues"]) else { return nil }
        var condition = AuthorizationPolicy.Condition(key: "")
        for (key, _, v) in pairs {
            switch key {
            case "key":
                condition.key = reader.string(v, what: "`when.key`") ?? ""
                if !ConditionKey.isKnown(condition.key) {
                    reader.error(v, "unknown `when` key `\(condition.key)`; this rule fails closed",
                                 hint: "known keys: request.headers[NAME], source.ip, remote.ip, source.namespace, source.principal, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[NAME], destination.ip, destination.port, connection.sni")
                    rule.unsupported.append("`when` key `\(condition.key)`")
                }
            case "values", "notValues":
                let values = list(v, key, reader: &reader)
                if key == "values" { condition.values = values.texts } else { condition.notValues = values.texts }
                if ["source.ip", "remote.ip", "destination.ip"].contains(condition.key) {
                    check(values, in: "\(key)` of `\(condition.key)", .address, reader: &reader, rule: &rule)
                }
                if condition.key == "destination.port" { check(values, in: "\(key)` of `destination.port", .port, reader: &reader, rule: &rule) }
            default: break
            }
        }
        if condition.key == "destination.ip" {
            reader.warning(node, "`destination.ip` is not evaluated locally (every sidecar listens on loopback); this rule fails closed")
            rule.unsupported.append("`when` key `destination.ip`")
        }
        guard !condition.key.isEmpty else {
            reader.error(node, "a `when` entry needs a `key`")
            rule.unsupported.append("`when` without a key")
            return nil
        }
        if condition.values == nil, condition.notValues == nil {
            reader.error(node, "`when` key `\(condition.key)` needs `values` or `notValues`")
            rule.unsupported.append("`when` without values")
        }
        return condition
    }

    /// What a field's values must be.
    enum ValueKind {
        case address, port, path

        func accepts(_ text: String) -> Bool {
            switch self {
            case .address: return IPBlock(text) != nil
            case .port: return Int(text).map { (0...65535).contains($0) } ?? false
            case .path: return PathMatcher(text) != nil
            }
        }

        var expected: (what: String, hint: String) {
            switch self {
            case .address: return ("an IP address or CIDR range", "write 10.0.0.1, 10.0.0.0/8 or fd00::/8")
            case .port: return ("a port number", "0 to 65535")
            case .path: return ("a valid path template", "`{*}` and `{**}` must be whole segments, and `{**}` the last operator")
            }
        }
    }

    /// Each value that is not of `kind` is an error, and the rule fails closed.
    func check(_ values: Values, in field: String, _ kind: ValueKind, reader: inout YAMLReader, rule: inout AuthorizationPolicy.Rule) {
        for (text, location) in values.withLocations where !kind.accepts(text) {
            reader.diagnostics.append(.error(at: location, "`\(text)` in `\(field)` is not \(kind.expected.what)", hint: kind.expected.hint))
            rule.unsupported.append("`\(field)` value `\(text)`")
        }
    }

    struct Values {
        var withLocations: [(String, SourceLocation)]
        var texts: [String] { withLocations.map(\.0) }
    }

    func list(_ node: Node, _ key: String, reader: inout YAMLReader) -> Values {
        let values = reader.stringList(node, what: "`\(key)`") ?? []
        for (value, location) in values where value.isEmpty {
            reader.diagnostics.append(.error(at: location, "an empty value in `\(key)`; Istio refuses it"))
        }
        return Values(withLocations: values)
    }

    // MARK: RequestAuthentication

    func readAuthentication(_ spec: Node?, reader: inout YAMLReader) -> RequestAuthentication? {
        var auth = RequestAuthentication(name: "")
        guard let spec, !reader.isNull(spec) else { return auth }
        for (key, keyNode, v) in reader.mapping(spec, what: "`spec`", allowed: ["selector", "targetRef", "targetRefs", "jwtRules"]) ?? [] {
            switch key {
            case "selector": auth.selector = readSelector(v, reader: &reader)
            case "jwtRules":
                guard case .sequence(let rules) = v else {
                    reader.error(v, "`jwtRules` must be a list, not \(YAMLReader.describe(v))")
                    return nil
                }
                for rule in rules {
                    guard let parsed = readJWTRule(rule, reader: &reader) else { return nil }
                    auth.jwtRules.append(parsed)
                }
            default:
                reader.warning(keyNode, "`\(key)` (Gateway API targets) is not supported; the policy applies by namespace and selector only")
            }
        }
        return auth
    }

    func readJWTRule(_ node: Node, reader: inout YAMLReader) -> RequestAuthentication.JWTRule? {
        let fields = ["issuer", "audiences", "jwks", "jwksUri", "fromHeaders", "fromParams", "fromCookies", "outputClaimToHeaders",
                      "forwardOriginalToken", "outputPayloadToHeader", "timeout"]
        guard let pairs = reader.mapping(node, what: "a `jwtRules` entry", allowed: fields) else { return nil }
        var rule = RequestAuthentication.JWTRule(issuer: "")
        for (key, keyNode, v) in pairs {
            switch key {
            case "issuer": rule.issuer = reader.string(v, what: "`issuer`") ?? ""
            case "audiences": rule.audiences = list(v, key, reader: &reader).texts
            case "jwks": rule.jwks = reader.string(v, what: "`jwks`")
            case "jwksUri": rule.jwksUri = reader.string(v, what: "`jwksUri`")
            case "fromParams": rule.fromParams = list(v, key, reader: &reader).texts
            case "fromCookies": rule.fromCookies = list(v, key, reader: &reader).texts
            case "forwardOriginalToken": rule.forwardOriginalToken = reader.bool(v, what: "`forwardOriginalToken`") ?? false
            case "fromHeaders":
                guard case .sequence(let items) = v else {
                    reader.error(v, "`fromHeaders` must be a list of {name, prefix}")
                    continue
                }
                for item in items {
                    var header = RequestAuthentication.JWTRule.HeaderSource(name: "")
                    for (k, _, hv) in reader.mapping(item, what: "a `fromHeaders` entry", allowed: ["name", "prefix"]) ?? [] {
                        if k == "name" { header.name = reader.string(hv, what: "`fromHeaders.name`") ?? "" }
                        else { header.prefix = reader.string(hv, what: "`fromHeaders.prefix`") }
                    }
                    if !header.name.isEmpty { rule.fromHeaders.append(header) }
                }
            case "outputClaimToHeaders":
                guard case .sequence(let items) = v else {
                    reader.error(v, "`outputClaimToHeaders` must be a list of {header, claim}")
                    continue
                }
                for item in items {
                    var header = "", claim = ""
                    for (k, _, hv) in reader.mapping(item, what: "an `outputClaimToHeaders` entry", allowed: ["header", "claim"]) ?? [] {
                        if k == "header" { header = reader.string(hv, what: "`header`") ?? "" } else { claim = reader.string(hv, what: "`claim`") ?? "" }
                    }
                    if !header.isEmpty, !claim.isEmpty { rule.outputClaimToHeaders.append((header, claim)) }
                }
            default:
                reader.warning(keyNode, "`\(key)` is not supported yet and is ignored")
            }
        }
        guard !rule.issuer.isEmpty else {
            reader.error(node, "a `jwtRules` entry needs an `issuer`")
            return nil
        }
        if rule.jwks != nil, rule.jwksUri != nil {
            reader.error(node, "give `jwks` or `jwksUri`, not both")
            return nil
        }
        return rule
    }
}
