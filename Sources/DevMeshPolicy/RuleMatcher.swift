import DevMeshCore

/// Whether one rule matches a request; when not, the first reason why, in words. The data plane
/// asks without `explain`: then a mismatch is only marked, and no sentence is built.
enum RuleMatcher {
    /// What a mismatch returns when no explanation is wanted.
    static let unexplained = "-"

    static func mismatch(_ rule: AuthorizationPolicy.Rule, _ request: PolicyRequest, explain: Bool = true) -> String? {
        if !rule.from.isEmpty {
            if explain {
                let misses = rule.from.map { source(mismatchOf: $0, request) }
                if !misses.contains(where: { $0 == nil }) { return "from: " + misses.compactMap { $0 }.joined(separator: "; or ") }
            } else if !rule.from.contains(where: { source(mismatchOf: $0, request, explain: false) == nil }) {
                return unexplained
            }
        }
        if !rule.to.isEmpty {
            if explain {
                let misses = rule.to.map { operation(mismatchOf: $0, request) }
                if !misses.contains(where: { $0 == nil }) { return "to: " + misses.compactMap { $0 }.joined(separator: "; or ") }
            } else if !rule.to.contains(where: { operation(mismatchOf: $0, request, explain: false) == nil }) {
                return unexplained
            }
        }
        for condition in rule.when {
            if let miss = self.condition(mismatchOf: condition, request, explain: explain) { return explain ? "when: " + miss : miss }
        }
        return nil
    }

    /// A field with positive values must match one; with `not` values must match none.
    static func field(_ name: String, _ value: String?, values: [String]?, notValues: [String]?, explain: Bool = true,
                      match: (String, String?) -> Bool) -> String? {
        if let values, !values.contains(where: { match($0, value) }) {
            guard explain else { return unexplained }
            return "\(name) \(value.map { "`\($0)`" } ?? "none") is not one of \(values)"
        }
        if let notValues, let hit = notValues.first(where: { match($0, value) }) {
            guard explain else { return unexplained }
            return "\(name) \(value.map { "`\($0)`" } ?? "none") matches not\(name.prefix(1).uppercased() + name.dropFirst()) `\(hit)`"
        }
        return nil
    }

    static func string(_ pattern: String, _ value: String?) -> Bool { StringMatcher(pattern).matches(value) }

    static func source(mismatchOf s: AuthorizationPolicy.Source, _ r: PolicyRequest, explain: Bool = true) -> String? {
        field("principals", r.sourcePrincipal, values: s.principals, notValues: s.notPrincipals, explain: explain, match: string)
            ?? field("requestPrincipals", r.requestPrincipal, values: s.requestPrincipals, notValues: s.notRequestPrincipals,
                     explain: explain, match: string)
            ?? field("namespaces", r.sourceNamespace, values: s.namespaces, notValues: s.notNamespaces, explain: explain, match: string)
            ?? field("ipBlocks", r.sourceIP, values: s.ipBlocks, notValues: s.notIpBlocks, explain: explain) { IPBlock($0)?.contains($1) ?? false }
            ?? field("remoteIpBlocks", r.remoteIP ?? r.sourceIP, values: s.remoteIpBlocks, notValues: s.notRemoteIpBlocks, explain: explain) {
                IPBlock($0)?.contains($1) ?? false
            }
    }

    static func operation(mismatchOf o: AuthorizationPolicy.Operation, _ r: PolicyRequest, explain: Bool = true) -> String? {
        field("hosts", r.host, values: o.hosts, notValues: o.notHosts, explain: explain) { StringMatcher($0).matches($1, caseInsensitive: true) }
            ?? field("ports", r.port.map(String.init), values: o.ports, notValues: o.notPorts, explain: explain, match: { $0 == $1 })
            ?? field("methods", r.method, values: o.methods, notValues: o.notMethods, explain: explain, match: string)
            ?? paths(r.path, o, explain: explain)
    }

    /// `paths`/`notPaths` with their templates parsed once (`Operation.pathMatchers`).
    static func paths(_ path: String, _ o: AuthorizationPolicy.Operation, explain: Bool) -> String? {
        if let values = o.paths, let matchers = o.pathMatchers, !matchers.contains(where: { $0?.matches(path) ?? false }) {
            return explain ? "paths `\(path)` is not one of \(values)" : unexplained
        }
        if let notValues = o.notPaths, let matchers = o.notPathMatchers, let hit = matchers.firstIndex(where: { $0?.matches(path) ?? false }) {
            return explain ? "paths `\(path)` matches notPaths `\(notValues[hit])`" : unexplained
        }
        return nil
    }

    static func condition(mismatchOf c: AuthorizationPolicy.Condition, _ r: PolicyRequest, explain: Bool = true) -> String? {
        let actual = values(of: c.key, r)
        func shown() -> String { actual.isEmpty ? "none" : actual.map { "`\($0)`" }.joined(separator: ", ") }
        func any(_ patterns: [String]) -> String? {
            for pattern in patterns {
                let hit = c.key == "source.ip" || c.key == "remote.ip" || c.key == "destination.ip"
                    ? actual.contains { IPBlock(pattern)?.contains($0) ?? false }
                    : actual.contains { StringMatcher(pattern).matches($0) }
                if hit { return pattern }
            }
            return nil
        }
        if let values = c.values, any(values) == nil { return explain ? "\(c.key) \(shown()) is not one of \(values)" : unexplained }
        if let notValues = c.notValues, let hit = any(notValues) { return explain ? "\(c.key) \(shown()) matches notValues `\(hit)`" : unexplained }
        return nil
    }

    /// The request's values for a `when` key (a claim that is a list gives each element).
    static func values(of key: String, _ r: PolicyRequest) -> [String] {
        switch key {
        case "source.ip": return r.sourceIP.map { [$0] } ?? []
        case "remote.ip": return (r.remoteIP ?? r.sourceIP).map { [$0] } ?? []
        case "source.namespace": return r.sourceNamespace.map { [$0] } ?? []
        case "source.principal": return r.sourcePrincipal.map { [$0] } ?? []
        case "request.auth.principal": return r.requestPrincipal.map { [$0] } ?? []
        case "request.auth.audiences": return claimValues(r.claims["aud"])
        case "request.auth.presenter": return claimValues(r.claims["azp"])
        case "destination.port": return r.port.map { [String($0)] } ?? []
        case "connection.sni": return r.sni.map { [$0] } ?? []
        default:
            if let name = ConditionKey.header(key) { return r.headers[name.lowercased()].map { [$0] } ?? [] }
            if let path = ConditionKey.claim(key) {
                var value: AttributeValue? = .map(r.claims)
                for part in path {
                    guard case .map(let m)? = value else { return [] }
                    value = m[part]
                }
                return claimValues(value)
            }
            return []
        }
    }

    static func claimValues(_ value: AttributeValue?) -> [String] {
        switch value {
        case nil: return []
        case .array(let items)?: return items.map(\.text)
        case .string(let s)?:
            // Istio splits a space-separated `scope`-style claim only for specific claims; keep it whole.
            return [s]
        case let other?: return [other.text]
        }
    }
}

/// The `when` keys Istio defines, and the two with arguments: `request.headers[name]` and
/// `request.auth.claims[a][b]…`.
public enum ConditionKey {
    public static let plain: Set<String> = [
        "source.ip", "remote.ip", "source.namespace", "source.principal", "request.auth.principal",
        "request.auth.audiences", "request.auth.presenter", "destination.ip", "destination.port", "connection.sni",
    ]

    public static func isKnown(_ key: String) -> Bool {
        plain.contains(key) || header(key) != nil || claim(key) != nil
    }

    public static func header(_ key: String) -> String? {
        guard key.hasPrefix("request.headers["), key.hasSuffix("]") else { return nil }
        let name = key.dropFirst("request.headers[".count).dropLast()
        return name.isEmpty || name.contains("[") || name.contains("]") ? nil : String(name)
    }

    public static func claim(_ key: String) -> [String]? {
        guard key.hasPrefix("request.auth.claims["), key.hasSuffix("]") else { return nil }
        let inner = key.dropFirst("request.auth.claims[".count).dropLast()
        let parts = inner.components(separatedBy: "][")
        return parts.contains(where: { $0.isEmpty || $0.contains("[") || $0.contains("]") }) ? nil : parts
    }
}
