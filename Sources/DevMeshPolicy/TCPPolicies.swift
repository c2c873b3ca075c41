import DevMeshCore

/// Istio's reading of AuthorizationPolicies for plain TCP connections (`protocol: tcp`), where
/// there is no method, path, host, header or token: a rule that names any of those HTTP-only
/// fields is dropped from ALLOW (and AUDIT) policies — it can never match — and kept in DENY
/// policies with those fields removed, so a DENY errs towards denying. An ALLOW policy left with
/// no rules then allows nothing, as on Istio.
extension PolicyEngine {
    public func forTCP() -> PolicyEngine {
        PolicyEngine(policies: policies.map(Self.tcp), rootNamespace: rootNamespace)
    }

    static func tcp(_ policy: AuthorizationPolicy) -> AuthorizationPolicy {
        var policy = policy
        switch policy.action {
        case .deny:
            policy.rules = policy.rules.map(stripped)
        case .allow, .audit:
            policy.rules = policy.rules.filter { !usesHTTP($0) }
        case .custom:
            break
        }
        return policy
    }

    /// Whether a rule names a field only an HTTP request has.
    public static func usesHTTP(_ rule: AuthorizationPolicy.Rule) -> Bool {
        rule.from.contains { $0.requestPrincipals != nil || $0.notRequestPrincipals != nil }
            || rule.to.contains { o in
                o.hosts != nil || o.notHosts != nil || o.methods != nil || o.notMethods != nil || o.paths != nil || o.notPaths != nil
            }
            || rule.when.contains { isHTTPKey($0.key) }
    }

    static func isHTTPKey(_ key: String) -> Bool { key.hasPrefix("request.") }

    static func stripped(_ rule: AuthorizationPolicy.Rule) -> AuthorizationPolicy.Rule {
        var rule = rule
        rule.from = rule.from.map { s in
            var s = s
            s.requestPrincipals = nil
            s.notRequestPrincipals = nil
            return s
        }
        rule.to = rule.to.map { o in
            var o = o
            o.hosts = nil; o.notHosts = nil; o.methods = nil; o.notMethods = nil; o.paths = nil; o.notPaths = nil
            return o
        }
        rule.when = rule.when.filter { !isHTTPKey($0.key) }
        return rule
    }
}
