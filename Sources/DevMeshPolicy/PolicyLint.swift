import DevMeshCore

/// `devmesh policy lint`: the traps users fall into with Istio policies, as warnings with the
/// policy's location — each one a case where the policy does not do what it reads like.
public enum PolicyLint {
    public static func check(_ workspace: PolicyWorkspace) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let workloads = Array(workspace.workloads.values)
        for policy in workspace.engine.policies {
            let at = policy.location
            func warn(_ message: String, _ hint: String) { out.append(.warning(at: at, "\(policy.id): \(message)", hint: hint)) }

            if let selector = policy.selector, !selector.isEmpty,
               !workloads.contains(where: { w in (w.namespace == policy.namespace || policy.namespace == workspace.engine.rootNamespace)
                   && selector.allSatisfy { w.labels[$0.key] == $0.value } }) {
                warn("its selector \(selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")) matches no service of this stack",
                     "check the labels (`app` defaults to the service name) and the namespace (`\(policy.namespace)`)")
            }
            if policy.action == .custom {
                warn("CUSTOM policies call an external authorizer; devmesh does not evaluate them", "test the rest with `devmesh policy test`; this one only on the real mesh")
            }
            let tcpTargets = workspace.tcpServices.sorted().filter { name in
                workspace.workloads[name].map { w in workspace.engine.policies(for: w).contains { $0.id == policy.id } } ?? false
            }
            for (index, rule) in policy.rules.enumerated() {
                if !tcpTargets.isEmpty, PolicyEngine.usesHTTP(rule), policy.action != .custom {
                    let services = tcpTargets.map { "`\($0)`" }.joined(separator: ", ")
                    if policy.action == .deny {
                        warn("rule \(index) names HTTP fields (methods, paths, hosts, requestPrincipals, request.*), which TCP connections to \(services) do not have: Istio drops them, so the rule denies more connections than it reads",
                             "write TCP rules with principals, namespaces, ipBlocks and ports only")
                    } else {
                        warn("rule \(index) names HTTP fields (methods, paths, hosts, requestPrincipals, request.*), which TCP connections to \(services) do not have: Istio ignores the rule, so it never allows a connection",
                             "write TCP rules with principals, namespaces, ipBlocks and ports only")
                    }
                }
                for value in literalStars(rule) {
                    warn("rule \(index): `\(value)` has a `*` in the middle, which Istio matches literally (not as a wildcard)",
                         "use a prefix (`/api/*`), a suffix (`*.json`) or a path template (`/users/{*}/orders`)")
                }
                if workspace.mtls == .off, rule.from.contains(where: { $0.principals != nil || $0.namespaces != nil }) {
                    warn("rule \(index) names principals or namespaces, but `mtls: off` gives requests no principal: it never matches",
                         "turn mTLS on (the default, `mtls: permissive`) or match on something else")
                }
                if policy.action == .deny {
                    for operation in rule.to {
                        for path in operation.paths ?? [] {
                            for bypass in bypasses(of: path, mode: workspace.normalization) {
                                warn("rule \(index): DENY `\(path)` lets `\(bypass.request)` through under \(workspace.normalization.rawValue) — \(bypass.why)", bypass.hint)
                            }
                        }
                    }
                }
            }
        }
        out += tokenTraps(workspace)
        // Health checks: on a real mesh a probe that goes through the sidecar carries no principal.
        for (service, path) in workspace.healthPaths.sorted(by: { $0.key < $1.key }) {
            guard let workload = workspace.workloads[service] else { continue }
            let decision = workspace.engine.evaluate(PolicyRequest(method: "GET", path: path, headers: ["user-agent": "kube-probe"]), at: workload)
            guard decision.verdict == .deny else { continue }
            let deciding = decision.decidedBy.flatMap { ref in workspace.engine.policies.first { $0.id == ref.policy } }
                ?? workspace.engine.policies(for: workload).first { $0.action == .allow }
            out.append(.warning(at: deciding?.location, "\(service)'s health check (GET \(path), no principal) is denied: \(decision.reason)",
                                hint: "on Kubernetes a probe through the sidecar would fail; allow it, e.g. a rule `to: [{operation: {methods: [GET], paths: [\(path)]}}]`"))
        }
        return out
    }

    /// Whether an enforced policy reads the request's token identity.
    static func readsToken(_ policy: AuthorizationPolicy) -> Bool {
        !policy.dryRun && policy.rules.contains { rule in
            rule.from.contains { $0.requestPrincipals != nil || $0.notRequestPrincipals != nil }
                || rule.when.contains { $0.key.hasPrefix("request.auth.") }
        }
    }

    /// The two JWT traps: a RequestAuthentication alone does not require a token, and a gateway
    /// that removes the token (the default) leaves the services behind it without one.
    static func tokenTraps(_ workspace: PolicyWorkspace) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let workloads = workspace.workloads.values.sorted { $0.name < $1.name }
        for auth in workspace.authentications {
            let covered = workloads.filter { w in workspace.authentications(for: w).contains { $0.id == auth.id } }
            let open = covered.filter { w in !workspace.engine.policies(for: w).contains(where: readsToken) }
                .filter { !$0.name.hasPrefix("external-") }
            if !open.isEmpty {
                let names = open.map { "`\($0.name)`" }.joined(separator: ", ")
                out.append(.warning(at: auth.location,
                    "\(auth.id): requests without a token still reach \(names): a RequestAuthentication only refuses invalid tokens",
                    hint: "to require one, add an ALLOW policy with `from: [{source: {requestPrincipals: [\"*\"]}}]` (or a DENY with notRequestPrincipals)"))
            }
        }
        // At the gateway, a rule that does not forward the token strips it from what the services get.
        if let gateway = workspace.workloads[PolicyWorkspace.gateway] {
            let stripping = workspace.authentications(for: gateway).filter { $0.jwtRules.contains { !$0.forwardOriginalToken } }
            let needing = workloads.filter { w in
                w.name != gateway.name && !w.name.hasPrefix("external-")
                    && workspace.engine.policies(for: w).contains(where: readsToken)
                    && !workspace.authentications(for: w).isEmpty
            }
            if !needing.isEmpty {
                for auth in stripping {
                    out.append(.warning(at: auth.location,
                        "\(auth.id): the gateway removes the token before forwarding (forwardOriginalToken is false), but the policies of \(needing.map { "`\($0.name)`" }.joined(separator: ", ")) need one: requests through the gateway reach them without a token",
                        hint: "set `forwardOriginalToken: true` on the gateway's JWT rule"))
                }
            }
        }
        return out
    }

    static func literalStars(_ rule: AuthorizationPolicy.Rule) -> [String] {
        var values: [String] = []
        for s in rule.from {
            for list in [s.principals, s.notPrincipals, s.requestPrincipals, s.notRequestPrincipals, s.namespaces, s.notNamespaces] { values += list ?? [] }
        }
        for o in rule.to {
            for list in [o.hosts, o.notHosts, o.methods, o.notMethods, o.paths, o.notPaths] { values += list ?? [] }
        }
        for c in rule.when { values += (c.values ?? []) + (c.notValues ?? []) }
        return values.filter { v in
            guard v.count > 2, !v.contains("{*}"), !v.contains("{**}") else { return false }
            return v.dropFirst().dropLast().contains("*")
        }
    }

    public struct Bypass: Sendable, Equatable {
        public var request: String
        public var why: String
        public var hint: String
    }

    /// Requests a typical app treats as the denied path that the DENY does not match after
    /// `mode`'s normalisation (and that the normalisation does not refuse).
    public static func bypasses(of pattern: String, mode: PolicyNormalization) -> [Bypass] {
        guard let matcher = PathMatcher(pattern) else { return [] }
        // The literal head of the pattern: what a request for the denied thing starts with.
        var head: String
        switch StringMatcher(pattern) {
        case .exact(let s), .prefix(let s): head = s
        default: return []
        }
        if case .template = matcher { head = String(pattern.prefix { $0 != "{" }) }
        guard head.hasPrefix("/"), head.count > 1 else { return [] }
        let probe = head.hasSuffix("/") ? head + "x" : head
        let rest = String(probe.dropFirst())
        var candidates: [(String, String, String)] = [
            ("/" + probe, "repeated slashes are kept", "set `policy_normalization: MERGE_SLASHES` (or DECODE_AND_MERGE_SLASHES)"),
            (probe.replacingOccurrences(of: "/", with: "%2F", options: [], range: probe.index(after: probe.startIndex)..<probe.endIndex),
             "an encoded slash (%2F) is kept", "set `policy_normalization: DECODE_AND_MERGE_SLASHES`"),
        ]
        if let slash = rest.firstIndex(of: "/") {
            let encoded = "/" + rest[..<slash] + "%2F" + rest[rest.index(after: slash)...]
            candidates.append((encoded, "an encoded slash (%2F) is kept", "set `policy_normalization: DECODE_AND_MERGE_SLASHES`"))
        }
        if probe.uppercased() != probe {
            candidates.append((probe.uppercased(), "paths are case-sensitive in every mode",
                               "if the app treats paths case-insensitively, deny `\(pattern.uppercased())` too (or normalise case in the app)"))
        }
        var out: [Bypass] = []
        var seen = Set<String>()
        for (request, why, hint) in candidates where !seen.contains(request) {
            seen.insert(request)
            guard case .success(let normalised) = PathNormalization.policyPath(request, mode: mode) else { continue }
            if !matcher.matches(normalised) {
                out.append(Bypass(request: request, why: why, hint: hint))
            }
        }
        return out
    }
}
