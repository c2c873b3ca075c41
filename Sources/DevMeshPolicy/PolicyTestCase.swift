import DevMeshCore
import Yams

/// One case of a `devmesh policy test` file (PRODUCT.md, "Policy test cases").
public struct PolicyTestCase: Sendable, Equatable {
    public enum Expectation: String, Sendable, Equatable, CaseIterable {
        case allow, deny, unauthenticated
    }

    public var name: String
    public var to: String
    public var from: String?
    public var principal: String?
    public var sourceIP: String?
    public var port: Int?
    public var method: String = "GET"
    public var path: String = "/"
    public var host: String?
    public var headers: [String: String] = [:]
    /// A valid JWT with these claims (when a RequestAuthentication in scope names its issuer).
    public var claims: [String: AttributeValue]?
    public var jwt: String?
    /// What verifying `jwt` gave (set by the caller, which holds the keys): a raw token is
    /// validated like a real request's.
    public var jwtVerdict: JWTVerdict?
    public var sni: String?
    public var expect: Expectation
    /// `namespace/name` of the policy that must decide.
    public var policy: String?
    public var location: SourceLocation?

    public init(name: String, to: String, expect: Expectation) {
        self.name = name
        self.to = to
        self.expect = expect
    }

    /// The cases of a file, and every problem with file:line:column.
    public static func parse(_ text: String, file: String) -> (cases: [PolicyTestCase], diagnostics: [Diagnostic]) {
        var reader = YAMLReader(file: file)
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            return ([], [.error(at: SourceLocation(file: file, line: 1, column: 1), "not valid YAML: \(error)")])
        }
        guard let node, let top = reader.mapping(node, what: "a policy test file", allowed: ["cases"]),
              let casesNode = top.first?.value else {
            reader.diagnostics.append(.error(at: SourceLocation(file: file, line: 1, column: 1), "no `cases:` list",
                                             hint: "see PRODUCT.md or docs/policies.md for the format"))
            return ([], reader.diagnostics)
        }
        guard case .sequence(let items) = casesNode else {
            reader.error(casesNode, "`cases` must be a list")
            return ([], reader.diagnostics)
        }
        var cases: [PolicyTestCase] = []
        for (index, item) in items.enumerated() {
            if let parsed = parseCase(item, index: index, reader: &reader) { cases.append(parsed) }
        }
        return (cases, reader.diagnostics)
    }

    static func parseCase(_ node: Node, index: Int, reader: inout YAMLReader) -> PolicyTestCase? {
        let keys = ["name", "to", "from", "principal", "source_ip", "port", "sni", "request", "expect", "policy"]
        guard let pairs = reader.mapping(node, what: "case \(index + 1)", allowed: keys) else { return nil }
        var c = PolicyTestCase(name: "case \(index + 1)", to: "", expect: .allow)
        c.location = reader.location(of: node)
        var expect: Expectation?
        for (key, _, v) in pairs {
            switch key {
            case "name": c.name = reader.string(v, what: "`name`") ?? c.name
            case "to": c.to = reader.string(v, what: "`to`") ?? ""
            case "from": c.from = reader.string(v, what: "`from`")
            case "principal": c.principal = reader.string(v, what: "`principal`")
            case "source_ip": c.sourceIP = reader.string(v, what: "`source_ip`")
            case "port": c.port = reader.port(v, what: "`port`")
            case "sni": c.sni = reader.string(v, what: "`sni`")
            case "policy": c.policy = reader.string(v, what: "`policy`")
            case "expect": expect = reader.enumValue(v, what: "`expect`", as: Expectation.self)
            default:
                let fields = ["method", "path", "host", "headers", "claims", "jwt"]
                for (rk, _, rv) in reader.mapping(v, what: "`request`", allowed: fields) ?? [] {
                    switch rk {
                    case "method": c.method = reader.string(rv, what: "`request.method`") ?? "GET"
                    case "path": c.path = reader.string(rv, what: "`request.path`") ?? "/"
                    case "host": c.host = reader.string(rv, what: "`request.host`")
                    case "jwt": c.jwt = reader.string(rv, what: "`request.jwt`")
                    case "headers":
                        for header in reader.stringMap(rv, what: "`request.headers`") ?? [] { c.headers[header.name.lowercased()] = header.value }
                    default: c.claims = claims(rv, reader: &reader)
                    }
                }
            }
        }
        guard !c.to.isEmpty else {
            reader.error(node, "case `\(c.name)` has no `to:` (the destination service)")
            return nil
        }
        guard let expect else {
            reader.error(node, "case `\(c.name)` has no `expect:`", hint: "allow, deny or unauthenticated")
            return nil
        }
        if c.from != nil, c.principal != nil {
            reader.error(node, "case `\(c.name)` gives both `from` and `principal`; give one")
            return nil
        }
        c.expect = expect
        return c
    }

    static func claims(_ node: Node, reader: inout YAMLReader) -> [String: AttributeValue]? {
        guard case .mapping = node else {
            reader.error(node, "`request.claims` must be a mapping such as {iss: https://issuer.test, sub: alice}")
            return nil
        }
        guard case .map(let map) = value(node) else { return nil }
        return map
    }

    /// A YAML value as a claim value: strings, numbers, booleans, lists and mappings.
    static func value(_ node: Node) -> AttributeValue {
        switch node {
        case .scalar(let s):
            if s.style == .plain {
                if let i = Int64(s.string) { return .int(i) }
                if s.string == "true" { return .bool(true) }
                if s.string == "false" { return .bool(false) }
            }
            return .string(s.string)
        case .sequence(let seq): return .array(seq.map(value))
        case .mapping(let m):
            var out: [String: AttributeValue] = [:]
            for (k, v) in m { if case .scalar(let ks) = k { out[ks.string] = value(v) } }
            return .map(out)
        case .alias: return .string("")
        }
    }
}

/// How a case came out.
/// A raw token's verification, done where the issuers' keys are.
public enum JWTVerdict: Sendable, Equatable {
    /// No RequestAuthentication applies to the workload: Istio ignores the token.
    case ignored
    case rejected(String)
    case valid([String: AttributeValue])
}

public struct PolicyTestResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case allow
        case deny
        case unauthenticated(String)
        /// The path was refused before any policy (400).
        case badRequest(String)
        /// The case itself cannot be run (unknown service…).
        case invalid(String)

        public var text: String {
            switch self {
            case .allow: return "allow"
            case .deny: return "deny"
            case .unauthenticated(let why): return "unauthenticated (401: \(why))"
            case .badRequest(let why): return "bad request (400: \(why))"
            case .invalid(let why): return "not runnable: \(why)"
            }
        }
    }

    public var testCase: PolicyTestCase
    public var outcome: Outcome
    public var decision: PolicyDecision?
    public var passed: Bool
    /// Why it failed, in a sentence (empty when it passed).
    public var failure: String
}

extension PolicyWorkspace {
    public func run(_ c: PolicyTestCase, nowSeconds: Int64) -> PolicyTestResult {
        func result(_ outcome: PolicyTestResult.Outcome, _ decision: PolicyDecision? = nil) -> PolicyTestResult {
            var passed: Bool
            switch (outcome, c.expect) {
            case (.allow, .allow), (.deny, .deny), (.unauthenticated, .unauthenticated): passed = true
            default: passed = false
            }
            var failure = ""
            if !passed {
                failure = "expected \(c.expect.rawValue), got \(outcome.text)" + (decision.map { ": \($0.reason)" } ?? "")
            } else if let wanted = c.policy, decision?.decidedBy?.policy != wanted {
                passed = false
                failure = "expected \(wanted) to decide, but " + (decision?.decidedBy.map { "\($0.policy) did" } ?? "no policy did") + (decision.map { " (\($0.reason))" } ?? "")
            }
            return PolicyTestResult(testCase: c, outcome: outcome, decision: decision, passed: passed, failure: failure)
        }
        guard let workload = workloads[c.to] else {
            return result(.invalid("no workload `\(c.to)`; known: \(workloads.keys.sorted().joined(separator: ", "))"))
        }
        var request = PolicyRequest(host: c.host, port: c.port ?? ports[c.to], method: c.method, headers: c.headers, sni: c.sni)
        request.sourceIP = c.sourceIP
        if let from = c.from {
            guard let principal = principal(of: from) else {
                return result(.invalid("no service `\(from)` to send from; known: \(workloads.keys.sorted().joined(separator: ", "))"))
            }
            request.sourcePrincipal = principal
        } else {
            request.sourcePrincipal = c.principal
        }
        switch PathNormalization.policyPath(c.path, mode: normalization) {
        case .success(let path): request.path = path
        case .failure(let rejection): return result(.badRequest("\(rejection)"))
        }
        var c = c
        if c.jwt != nil {
            switch c.jwtVerdict {
            case nil: return result(.invalid("the raw `jwt:` was not verified (no keys loaded); use `claims:`"))
            case .ignored: c.claims = nil
            case .rejected(let why): return result(.unauthenticated(why))
            case .valid(let claims): c.claims = claims
            }
        }
        if let claims = c.claims {
            switch authenticate(claims, at: workload, nowSeconds: nowSeconds) {
            case .none: break
            case .valid(let principal):
                request.requestPrincipal = principal
                request.claims = claims
            case .invalid(let why): return result(.unauthenticated(why))
            }
        }
        let decision = (tcpServices.contains(c.to) ? engine.forTCP() : engine).evaluate(request, at: workload)
        return result(decision.verdict == .allow ? .allow : .deny, decision)
    }

    enum Authentication {
        /// No RequestAuthentication in scope names the token's issuer: the request has no identity.
        case none
        case valid(String)
        case invalid(String)
    }

    /// Claims given in a case count as a token of a JWT rule with their issuer (PRODUCT.md); the
    /// rule's audiences and the token's `exp`/`nbf` (60 s leeway) still apply.
    func authenticate(_ claims: [String: AttributeValue], at workload: PolicyWorkload, nowSeconds: Int64) -> Authentication {
        guard case .string(let issuer)? = claims["iss"] else { return .none }
        let rules = authentications(for: workload).flatMap(\.jwtRules).filter { $0.issuer == issuer }
        guard let rule = rules.first else { return .none }
        if let problem = TokenClaimsCheck.problem(claims, rule: rule, nowSeconds: nowSeconds) { return .invalid(problem.description) }
        let subject = claims["sub"]?.text ?? ""
        return .valid(issuer + "/" + subject)
    }
}
