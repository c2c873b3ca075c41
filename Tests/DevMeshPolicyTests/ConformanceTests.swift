import DevMeshCore
import DevMeshPolicy
import Testing

// A conformance table for the AuthorizationPolicy engine: each case is YAML (one or more
// documents), the workload it runs at, one request, and the verdict Istio's sidecar would reach
// (with the deciding `namespace/name` and rule index where one decides). The examples of Istio's
// reference and tasks are re-expressed here in our own words and values.

// MARK: - Fixtures

private let meshRoot = "istio-system"
/// The workload most cases run at: `httpbin` in `foo` (label `app: httpbin` by default).
private let httpbin = PolicyWorkload(name: "httpbin", namespace: "foo")
private let httpbinV1 = PolicyWorkload(name: "httpbin", namespace: "foo", labels: ["version": "v1"])
private let httpbinV2 = PolicyWorkload(name: "httpbin", namespace: "foo", labels: ["version": "v2"])
private let ingress = PolicyWorkload(name: "istio-ingressgateway", namespace: meshRoot)

private let sleepFoo = "cluster.local/ns/foo/sa/sleep"
private let clientBar = "cluster.local/ns/bar/sa/client"
private let testNS = "cluster.local/ns/test/sa/tester"
private let jwtUser = "testing@secure.istio.io/testing@secure.istio.io"

/// One AuthorizationPolicy document. `spec` is the text under `spec:` written from column 0
/// (or a one-line flow mapping such as `{}`); nil leaves `spec` out.
private func policy(_ name: String, ns: String = "foo", dryRun annotation: String? = nil, _ spec: String?) -> String {
    var out = """
    apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata:
      name: \(name)
      namespace: \(ns)

    """
    if let dry = annotation {
        out += "  annotations:\n    istio.io/dry-run: \"\(dry)\"\n"
    }
    if let spec {
        if spec.hasPrefix("{") {
            out += "spec: \(spec)\n"
        } else {
            out += "spec:\n" + spec.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n") + "\n"
        }
    }
    return out
}

private func docs(_ parts: String...) -> String { parts.joined(separator: "---\n") }

struct ConformanceCase: Sendable, CustomTestStringConvertible {
    enum By: Sendable {
        /// Not checked.
        case unchecked
        /// No policy decided (no ALLOW policy in scope, or none of them matched).
        case nobody
        /// `namespace/name` and rule index.
        case rule(String, Int)
    }

    var name: String
    var yaml: String
    var workload: PolicyWorkload
    var request: PolicyRequest
    var verdict: PolicyDecision.Verdict
    var by: By
    /// Policy ids expected in `.audited` (exactly), when given.
    var audited: [String]?
    /// Policy ids each expected to be mentioned in `.dryRun`, when given (empty: `.dryRun` empty).
    var dryRun: [String]?
    /// Policy ids each expected to be mentioned in `.unsupported`, when given.
    var unsupported: [String]?
    enum Errors: Sendable {
        /// No error diagnostic is allowed.
        case none
        /// At least one error diagnostic is expected.
        case some
        /// Diagnostics are not this case's subject.
        case unchecked
    }
    var errors: Errors

    var testDescription: String { name }
}

private func c(_ name: String, _ yaml: String, at workload: PolicyWorkload = httpbin, _ request: PolicyRequest,
               _ verdict: PolicyDecision.Verdict, by: ConformanceCase.By = .unchecked, audited: [String]? = nil,
               dryRun: [String]? = nil, unsupported: [String]? = nil, errors: ConformanceCase.Errors = .none) -> ConformanceCase {
    ConformanceCase(name: name, yaml: yaml, workload: workload, request: request, verdict: verdict, by: by,
                    audited: audited, dryRun: dryRun, unsupported: unsupported, errors: errors)
}

// MARK: - Policies reused by several cases

/// Istio reference: ALLOW `sleep` of `default` (here `foo`) or anyone from namespace `test` to GET `/info*` or POST
/// `/data`, when the JWT was issued by Google.
private let httpbinAllow = policy("httpbin", """
action: ALLOW
rules:
- from:
  - source:
      principals: ["cluster.local/ns/foo/sa/sleep"]
  - source:
      namespaces: ["test"]
  to:
  - operation:
      methods: ["GET"]
      paths: ["/info*"]
  - operation:
      methods: ["POST"]
      paths: ["/data"]
  when:
  - key: request.auth.claims[iss]
    values: ["https://accounts.google.com"]
""")
private let google: [String: AttributeValue] = ["iss": .string("https://accounts.google.com")]

/// Explicit-deny task: DENY GET unless the `x-token` header is `admin`; ALLOW `sleep` to GET `/ip`.
private let denyMethodGet = policy("deny-method-get", """
action: DENY
rules:
- to:
  - operation:
      methods: ["GET"]
  when:
  - key: request.headers[x-token]
    notValues: ["admin"]
""")
private let allowPathIP = policy("allow-path-ip", """
action: ALLOW
rules:
- from:
  - source:
      principals: ["cluster.local/ns/foo/sa/sleep"]
  to:
  - operation:
      methods: ["GET"]
      paths: ["/ip"]
""")

/// Concepts page, exclusion: deny requests without a request principal, except to the health check.
private let requireJWTExceptHealth = policy("require-jwt", """
action: DENY
rules:
- from:
  - source:
      notRequestPrincipals: ["*"]
  to:
  - operation:
      notPaths: ["/healthz"]
""")

/// Ingress access control task: the gateway only admits these client addresses.
private let ingressAllowList = policy("ingress-policy", ns: meshRoot, """
selector:
  matchLabels:
    app: istio-ingressgateway
action: ALLOW
rules:
- from:
  - source:
      ipBlocks: ["1.2.3.4", "5.6.7.0/24"]
""")

private let allowNothing = policy("allow-nothing", "{}")
private let denyAll = policy("deny-all", """
action: DENY
rules:
- {}
""")
private let allowAll = policy("allow-all", """
action: ALLOW
rules:
- {}
""")

private func allowWhen(_ key: String, values: [String]? = nil, notValues: [String]? = nil, name: String = "when") -> String {
    var spec = "action: ALLOW\nrules:\n- when:\n  - key: \"\(key)\"\n"
    if let values { spec += "    values: [\(values.map { "\"\($0)\"" }.joined(separator: ", "))]\n" }
    if let notValues { spec += "    notValues: [\(notValues.map { "\"\($0)\"" }.joined(separator: ", "))]\n" }
    return policy(name, spec)
}

private func allowTo(_ field: String, _ values: [String], name: String = "to") -> String {
    policy(name, """
    action: ALLOW
    rules:
    - to:
      - operation:
          \(field): [\(values.map { "\"\($0)\"" }.joined(separator: ", "))]
    """)
}

private func allowFrom(_ field: String, _ values: [String], name: String = "from") -> String {
    policy(name, """
    action: ALLOW
    rules:
    - from:
      - source:
          \(field): [\(values.map { "\"\($0)\"" }.joined(separator: ", "))]
    """)
}

private func denyFrom(_ field: String, _ values: [String], name: String = "deny-from") -> String {
    policy(name, """
    action: DENY
    rules:
    - from:
      - source:
          \(field): [\(values.map { "\"\($0)\"" }.joined(separator: ", "))]
    """)
}

private func denyTo(_ field: String, _ values: [String], name: String = "deny-to") -> String {
    policy(name, """
    action: DENY
    rules:
    - to:
      - operation:
          \(field): [\(values.map { "\"\($0)\"" }.joined(separator: ", "))]
    """)
}

// MARK: - The table

private let actionCases: [ConformanceCase] = [
    c("no policy in scope: allow", policy("deny-all", ns: "bar", "action: DENY\nrules:\n- {}"),
      PolicyRequest(), .allow, by: .nobody),
    c("allow-nothing (spec: {}) denies everything", allowNothing,
      PolicyRequest(sourcePrincipal: sleepFoo, path: "/info"), .deny, by: .nobody),
    c("a policy without spec is allow-nothing", policy("no-spec", nil),
      PolicyRequest(sourcePrincipal: sleepFoo), .deny, by: .nobody),
    c("deny-all (DENY rules [{}]) denies everything", denyAll,
      PolicyRequest(sourcePrincipal: sleepFoo, method: "HEAD", path: "/status/200"), .deny, by: .rule("foo/deny-all", 0)),
    c("allow-all (ALLOW rules [{}]) allows everything", allowAll,
      PolicyRequest(method: "DELETE", path: "/anything"), .allow, by: .rule("foo/allow-all", 0)),
    c("allow-all beside allow-nothing: any ALLOW match allows", docs(allowNothing, allowAll),
      PolicyRequest(path: "/x"), .allow, by: .rule("foo/allow-all", 0)),
    c("deny-all beats allow-all: DENY is evaluated first", docs(allowAll, denyAll),
      PolicyRequest(path: "/x"), .deny, by: .rule("foo/deny-all", 0)),
    c("DENY without rules matches nothing", policy("deny-nothing", "action: DENY"),
      PolicyRequest(path: "/admin"), .allow, by: .nobody, errors: .unchecked),
    c("ALLOW with rules: [] is allow-nothing", policy("empty-rules", "action: ALLOW\nrules: []"),
      PolicyRequest(path: "/"), .deny, by: .nobody),
    c("a DENY that does not match, and no ALLOW policy: allow", denyTo("paths", ["/admin*"]),
      PolicyRequest(path: "/status"), .allow, by: .nobody),
    c("a DENY that matches denies even when an ALLOW rule matches too", docs(allowAll, denyTo("paths", ["/admin*"])),
      PolicyRequest(path: "/admin/users"), .deny, by: .rule("foo/deny-to", 0)),
    c("ALLOW policies but none match: deny", allowTo("methods", ["GET"]),
      PolicyRequest(method: "POST"), .deny, by: .nobody),
    c("the second rule of an ALLOW policy decides", policy("two-rules", """
    action: ALLOW
    rules:
    - to:
      - operation:
          methods: ["GET"]
          paths: ["/a"]
    - to:
      - operation:
          methods: ["POST"]
          paths: ["/b"]
    """), PolicyRequest(method: "POST", path: "/b"), .allow, by: .rule("foo/two-rules", 1)),
    c("missing action means ALLOW", policy("implicit-allow", """
    rules:
    - to:
      - operation:
          paths: ["/public*"]
    """), PolicyRequest(path: "/private"), .deny, by: .nobody),

    // AUDIT
    c("AUDIT (Istio example: GET /user/profile*) marks and never denies", policy("audit-profile", """
    action: AUDIT
    rules:
    - to:
      - operation:
          methods: ["GET"]
          paths: ["/user/profile/*"]
    """), PolicyRequest(method: "GET", path: "/user/profile/me"), .allow, by: .nobody, audited: ["foo/audit-profile"]),
    c("AUDIT that does not match is not reported", policy("audit-profile", """
    action: AUDIT
    rules:
    - to:
      - operation:
          methods: ["GET"]
          paths: ["/user/profile/*"]
    """), PolicyRequest(method: "POST", path: "/user/profile/me"), .allow, by: .nobody, audited: []),
    c("AUDIT does not make an allow-nothing allow", docs(allowNothing, policy("audit-all", "action: AUDIT\nrules:\n- {}")),
      PolicyRequest(path: "/x"), .deny, by: .nobody, audited: ["foo/audit-all"]),
    c("AUDIT is not an ALLOW policy (no default deny)", policy("audit-get", """
    action: AUDIT
    rules:
    - to:
      - operation:
          methods: ["GET"]
    """), PolicyRequest(method: "PUT"), .allow, by: .nobody, audited: []),

    // CUSTOM
    c("CUSTOM is not evaluated locally and is reported", policy("ext-authz", """
    action: CUSTOM
    provider:
      name: my-custom-authz
    rules:
    - to:
      - operation:
          paths: ["/admin/*"]
    """), PolicyRequest(path: "/admin/x"), .allow, by: .nobody, unsupported: ["foo/ext-authz"]),
    c("CUSTOM beside ALLOW: the ALLOW decides", docs(policy("ext-authz", """
    action: CUSTOM
    provider:
      name: my-custom-authz
    rules:
    - {}
    """), allowTo("methods", ["GET"])), PolicyRequest(method: "POST"), .deny, by: .nobody, unsupported: ["foo/ext-authz"]),

    // Dry-run
    c("dry-run DENY (Istio task: /headers) is not enforced but reported", policy("deny-path-headers", dryRun: "true", """
    action: DENY
    rules:
    - to:
      - operation:
          paths: ["/headers"]
    """), PolicyRequest(path: "/headers"), .allow, by: .nobody, dryRun: ["foo/deny-path-headers"]),
    c("dry-run DENY that would not match does not change anything", policy("deny-path-headers", dryRun: "true", """
    action: DENY
    rules:
    - to:
      - operation:
          paths: ["/headers"]
    """), PolicyRequest(path: "/ip"), .allow, by: .nobody),
    c("dry-run allow-nothing is not enforced; it would deny", policy("allow-nothing", dryRun: "true", "{}"),
      PolicyRequest(path: "/ip"), .allow, by: .nobody, dryRun: ["foo/allow-nothing"]),
    c("dry-run ALLOW does not create a default deny; it would deny", policy("allow-get", dryRun: "true", """
    action: ALLOW
    rules:
    - to:
      - operation:
          methods: ["GET"]
    """), PolicyRequest(method: "POST"), .allow, by: .nobody, dryRun: ["foo/allow-get"]),
    c("dry-run: \"false\" is enforced", policy("deny-all", dryRun: "false", "action: DENY\nrules:\n- {}"),
      PolicyRequest(), .deny, by: .rule("foo/deny-all", 0), dryRun: []),
    c("dry-run DENY that matches is reported even when an enforced DENY matches too",
      docs(denyAll, policy("deny-path-headers", dryRun: "true", """
      action: DENY
      rules:
      - to:
        - operation:
            paths: ["/headers"]
      """)), PolicyRequest(path: "/headers"), .deny, by: .rule("foo/deny-all", 0), dryRun: ["foo/deny-path-headers"]),
]

private let ruleCases: [ConformanceCase] = [
    // The Istio reference's httpbin ALLOW
    c("httpbin: sleep may GET /info* with a Google JWT", httpbinAllow,
      PolicyRequest(sourcePrincipal: sleepFoo, claims: google, method: "GET", path: "/info/version"), .allow, by: .rule("foo/httpbin", 0)),
    c("httpbin: namespace test may POST /data (second from, second to)", httpbinAllow,
      PolicyRequest(sourcePrincipal: testNS, claims: google, method: "POST", path: "/data"), .allow, by: .rule("foo/httpbin", 0)),
    c("httpbin: POST /info matches neither operation", httpbinAllow,
      PolicyRequest(sourcePrincipal: sleepFoo, claims: google, method: "POST", path: "/info"), .deny, by: .nobody),
    c("httpbin: another namespace's caller matches no source", httpbinAllow,
      PolicyRequest(sourcePrincipal: clientBar, claims: google, method: "GET", path: "/info"), .deny, by: .nobody),
    c("httpbin: every when must hold (wrong issuer)", httpbinAllow,
      PolicyRequest(sourcePrincipal: sleepFoo, claims: ["iss": .string("https://evil.example")], method: "GET", path: "/info"),
      .deny, by: .nobody),
    c("httpbin: no JWT, so the claim condition fails", httpbinAllow,
      PolicyRequest(sourcePrincipal: sleepFoo, method: "GET", path: "/info"), .deny, by: .nobody),

    // Fields AND, values OR
    c("source fields AND: principal right, IP wrong", policy("sleep-internal", """
    action: ALLOW
    rules:
    - from:
      - source:
          principals: ["cluster.local/ns/foo/sa/sleep"]
          ipBlocks: ["10.0.0.0/8"]
    """), PolicyRequest(sourcePrincipal: sleepFoo, sourceIP: "192.168.1.1"), .deny, by: .nobody),
    c("source fields AND: both hold", policy("sleep-internal", """
    action: ALLOW
    rules:
    - from:
      - source:
          principals: ["cluster.local/ns/foo/sa/sleep"]
          ipBlocks: ["10.0.0.0/8"]
    """), PolicyRequest(sourcePrincipal: sleepFoo, sourceIP: "10.4.5.6"), .allow, by: .rule("foo/sleep-internal", 0)),
    c("values OR: HEAD is one of [GET, HEAD]", allowTo("methods", ["GET", "HEAD"]),
      PolicyRequest(method: "HEAD"), .allow, by: .rule("foo/to", 0)),
    c("values OR: PUT is none of [GET, HEAD]", allowTo("methods", ["GET", "HEAD"]),
      PolicyRequest(method: "PUT"), .deny, by: .nobody),
    c("two when conditions: one fails", policy("two-whens", """
    action: ALLOW
    rules:
    - when:
      - key: request.headers[x-env]
        values: ["prod"]
      - key: request.headers[x-team]
        values: ["payments"]
    """), PolicyRequest(headers: ["x-env": "prod", "x-team": "search"]), .deny, by: .nobody),
    c("two when conditions: both hold", policy("two-whens", """
    action: ALLOW
    rules:
    - when:
      - key: request.headers[x-env]
        values: ["prod"]
      - key: request.headers[x-team]
        values: ["payments"]
    """), PolicyRequest(headers: ["x-env": "prod", "x-team": "payments"]), .allow, by: .rule("foo/two-whens", 0)),

    // notX
    c("notPaths: a path outside the exclusion is allowed", allowTo("notPaths", ["/admin*"]),
      PolicyRequest(path: "/status"), .allow, by: .rule("foo/to", 0)),
    c("notPaths: an excluded path is not", allowTo("notPaths", ["/admin*"]),
      PolicyRequest(path: "/admin/users"), .deny, by: .nobody),
    c("notMethods in a DENY: POST is denied", denyTo("notMethods", ["GET", "HEAD"]),
      PolicyRequest(method: "POST"), .deny, by: .rule("foo/deny-to", 0)),
    c("notMethods in a DENY: GET passes", denyTo("notMethods", ["GET", "HEAD"]),
      PolicyRequest(method: "GET"), .allow, by: .nobody),
    c("notNamespaces: a caller from bar is denied", denyFrom("notNamespaces", ["foo"]),
      PolicyRequest(sourcePrincipal: clientBar), .deny, by: .rule("foo/deny-from", 0)),
    c("notNamespaces: a caller from foo passes", denyFrom("notNamespaces", ["foo"]),
      PolicyRequest(sourcePrincipal: sleepFoo), .allow, by: .nobody),
    c("notHosts: another host is allowed", allowTo("notHosts", ["internal.example.com"]),
      PolicyRequest(host: "www.example.com"), .allow, by: .rule("foo/to", 0)),
    c("notHosts: the excluded host is not (case-insensitively)", allowTo("notHosts", ["internal.example.com"]),
      PolicyRequest(host: "Internal.Example.COM"), .deny, by: .nobody),
    c("notPorts: 9090 is denied by a DENY notPorts [8080]", denyTo("notPorts", ["8080"]),
      PolicyRequest(port: 9090), .deny, by: .rule("foo/deny-to", 0)),
    c("notPorts: 8080 passes", denyTo("notPorts", ["8080"]),
      PolicyRequest(port: 8080), .allow, by: .nobody),
    c("notIpBlocks: an address outside is allowed", allowFrom("notIpBlocks", ["203.0.113.0/24"]),
      PolicyRequest(sourceIP: "198.51.100.7"), .allow, by: .rule("foo/from", 0)),
    c("notIpBlocks: an address inside is not", allowFrom("notIpBlocks", ["203.0.113.0/24"]),
      PolicyRequest(sourceIP: "203.0.113.99"), .deny, by: .nobody),

    // Plaintext (no principal)
    c("plaintext: notPrincipals [*] (require mTLS) denies a caller without a principal", denyFrom("notPrincipals", ["*"]),
      PolicyRequest(sourceIP: "10.0.0.9"), .deny, by: .rule("foo/deny-from", 0)),
    c("mTLS: notPrincipals [*] lets a caller with a principal through", denyFrom("notPrincipals", ["*"]),
      PolicyRequest(sourcePrincipal: sleepFoo), .allow, by: .nobody),
    c("plaintext: principals [*] cannot match", allowFrom("principals", ["*"]),
      PolicyRequest(sourceIP: "10.0.0.9"), .deny, by: .nobody),
    c("plaintext: namespaces cannot match", allowFrom("namespaces", ["foo"]),
      PolicyRequest(sourceIP: "10.0.0.9"), .deny, by: .nobody),
    c("plaintext: notNamespaces holds", allowFrom("notNamespaces", ["bar"]),
      PolicyRequest(sourceIP: "10.0.0.9"), .allow, by: .rule("foo/from", 0)),
]

private let matchingCases: [ConformanceCase] = [
    // String forms
    c("exact: /info does not match /info/", allowTo("paths", ["/info"]),
      PolicyRequest(path: "/info/"), .deny, by: .nobody),
    c("exact: /info matches /info", allowTo("paths", ["/info"]),
      PolicyRequest(path: "/info"), .allow, by: .rule("foo/to", 0)),
    c("prefix: /info* matches /info/version", allowTo("paths", ["/info*"]),
      PolicyRequest(path: "/info/version"), .allow, by: .rule("foo/to", 0)),
    c("prefix: /info* does not match /inf", allowTo("paths", ["/info*"]),
      PolicyRequest(path: "/inf"), .deny, by: .nobody),
    c("suffix: */info matches /api/v1/info", allowTo("paths", ["*/info"]),
      PolicyRequest(path: "/api/v1/info"), .allow, by: .rule("foo/to", 0)),
    c("suffix: */info does not match /info/x", allowTo("paths", ["*/info"]),
      PolicyRequest(path: "/info/x"), .deny, by: .nobody),
    c("presence: * needs a non-empty header", allowWhen("request.headers[x-user]", values: ["*"]),
      PolicyRequest(headers: ["x-user": ""]), .deny, by: .nobody),
    c("presence: * matches any non-empty header", allowWhen("request.headers[x-user]", values: ["*"]),
      PolicyRequest(headers: ["x-user": "bob"]), .allow, by: .rule("foo/when", 0)),
    c("a * in the middle is literal: /api/*/info does not match /api/v1/info", allowTo("paths", ["/api/*/info"]),
      PolicyRequest(path: "/api/v1/info"), .deny, by: .nobody),
    c("a * in the middle is literal: it matches itself", allowTo("paths", ["/api/*/info"]),
      PolicyRequest(path: "/api/*/info"), .allow, by: .rule("foo/to", 0)),
    c("paths are case-sensitive: DENY /admin* does not catch /ADMIN", denyTo("paths", ["/admin*"]),
      PolicyRequest(path: "/ADMIN/users"), .allow, by: .nobody),
    c("paths are case-sensitive: DENY /admin* catches /admin", denyTo("paths", ["/admin*"]),
      PolicyRequest(path: "/admin/users"), .deny, by: .rule("foo/deny-to", 0)),
    c("principal prefix: cluster.local/ns/foo/* admits the namespace", allowFrom("principals", ["cluster.local/ns/foo/*"]),
      PolicyRequest(sourcePrincipal: sleepFoo), .allow, by: .rule("foo/from", 0)),
    c("principal prefix: not another namespace", allowFrom("principals", ["cluster.local/ns/foo/*"]),
      PolicyRequest(sourcePrincipal: clientBar), .deny, by: .nobody),

    // Path templates
    c("template {*}: one segment", allowTo("paths", ["/users/{*}/orders"]),
      PolicyRequest(path: "/users/42/orders"), .allow, by: .rule("foo/to", 0)),
    c("template {*}: not two segments", allowTo("paths", ["/users/{*}/orders"]),
      PolicyRequest(path: "/users/4/2/orders"), .deny, by: .nobody),
    c("template {*}: /foo/{*} does not match /foo/bar/baz (Istio example)", allowTo("paths", ["/foo/{*}"]),
      PolicyRequest(path: "/foo/bar/baz"), .deny, by: .nobody),
    c("template {**}: the rest of the path", allowTo("paths", ["/files/{**}"]),
      PolicyRequest(path: "/files/a/b/c.txt"), .allow, by: .rule("foo/to", 0)),
    c("template {**}: /foo/{*}/bar/{**} matches /foo/buzz/bar/baz (Istio example)", allowTo("paths", ["/foo/{*}/bar/{**}"]),
      PolicyRequest(path: "/foo/buzz/bar/baz"), .allow, by: .rule("foo/to", 0)),
    c("template {**}: /foo/{*}/bar/{**} does not match /foo/buzz/qux/baz", allowTo("paths", ["/foo/{*}/bar/{**}"]),
      PolicyRequest(path: "/foo/buzz/qux/baz"), .deny, by: .nobody),
    c("template {**}: zero segments — /foo/{*}/bar/{**} matches /foo/buzz/bar/ (Istio example)",
      allowTo("paths", ["/foo/{*}/bar/{**}"]), PolicyRequest(path: "/foo/buzz/bar/"), .allow, by: .rule("foo/to", 0)),
    c("template {**}: /foo/{**}/ is valid and matches /foo/bar/ (Istio example)", allowTo("paths", ["/foo/{**}/"]),
      PolicyRequest(path: "/foo/bar/"), .allow, by: .rule("foo/to", 0)),

    // Hosts
    c("hosts are case-insensitive", allowTo("hosts", ["httpbin.example.com"]),
      PolicyRequest(host: "HTTPBIN.Example.Com"), .allow, by: .rule("foo/to", 0)),
    c("hosts: a.com is not a.com:80", allowTo("hosts", ["a.com"]),
      PolicyRequest(host: "a.com:80"), .deny, by: .nobody),
    c("hosts: a.com:* covers a.com:80 (security best practices)", allowTo("hosts", ["a.com", "a.com:*"]),
      PolicyRequest(host: "a.com:80"), .allow, by: .rule("foo/to", 0)),
    c("hosts: *.example.com suffix", allowTo("hosts", ["*.example.com"]),
      PolicyRequest(host: "api.example.com"), .allow, by: .rule("foo/to", 0)),
    c("hosts: *.example.com is not example.org", allowTo("hosts", ["*.example.com"]),
      PolicyRequest(host: "api.example.org"), .deny, by: .nobody),

    // Ports
    c("ports: 8080 matches", allowTo("ports", ["8080"]),
      PolicyRequest(port: 8080), .allow, by: .rule("foo/to", 0)),
    c("ports: 9090 does not", allowTo("ports", ["8080"]),
      PolicyRequest(port: 9090), .deny, by: .nobody),
    c("ports: an unquoted YAML number is a port", policy("port-number", """
    action: ALLOW
    rules:
    - to:
      - operation:
          ports: [8080, 8443]
    """), PolicyRequest(port: 8443), .allow, by: .rule("foo/port-number", 0)),

    // IP blocks
    c("ipBlocks: DENY a CIDR catches an address inside", denyFrom("ipBlocks", ["203.0.113.0/24"]),
      PolicyRequest(sourceIP: "203.0.113.7"), .deny, by: .rule("foo/deny-from", 0)),
    c("ipBlocks: DENY a single IP leaves its neighbour", denyFrom("ipBlocks", ["203.0.113.7"]),
      PolicyRequest(sourceIP: "203.0.113.8"), .allow, by: .nobody),
    c("ipBlocks: IPv6 CIDR", allowFrom("ipBlocks", ["fd00::/8"]),
      PolicyRequest(sourceIP: "fd12:3456::1"), .allow, by: .rule("foo/from", 0)),
    c("ipBlocks: an IPv4-mapped IPv6 peer is its IPv4 address", denyFrom("ipBlocks", ["10.0.0.0/8"]),
      PolicyRequest(sourceIP: "::ffff:10.1.2.3"), .deny, by: .rule("foo/deny-from", 0)),
    c("ipBlocks: IPv4 address is not in an IPv6 range", allowFrom("ipBlocks", ["fd00::/8"]),
      PolicyRequest(sourceIP: "10.0.0.1"), .deny, by: .nobody),
    c("remoteIpBlocks: DENY the original client (X-Forwarded-For)", denyFrom("remoteIpBlocks", ["1.2.3.4"]),
      PolicyRequest(sourceIP: "10.0.0.1", remoteIP: "1.2.3.4"), .deny, by: .rule("foo/deny-from", 0)),
    c("ipBlocks look at the peer, not the original client", denyFrom("ipBlocks", ["1.2.3.4"]),
      PolicyRequest(sourceIP: "10.0.0.1", remoteIP: "1.2.3.4"), .allow, by: .nobody),
    c("remoteIpBlocks: without X-Forwarded-For the peer is the client", denyFrom("remoteIpBlocks", ["10.0.0.0/8"]),
      PolicyRequest(sourceIP: "10.0.0.1"), .deny, by: .rule("foo/deny-from", 0)),
    c("ingress task: a listed client CIDR is admitted at the gateway", ingressAllowList, at: ingress,
      PolicyRequest(sourceIP: "5.6.7.8"), .allow, by: .rule("istio-system/ingress-policy", 0)),
    c("ingress task: another client is refused at the gateway", ingressAllowList, at: ingress,
      PolicyRequest(sourceIP: "9.9.9.9"), .deny, by: .nobody),

    // Principals and namespaces
    c("namespaces: source.namespace comes from the principal", allowFrom("namespaces", ["test"]),
      PolicyRequest(sourcePrincipal: testNS), .allow, by: .rule("foo/from", 0)),
    c("namespaces: the service account is not the namespace", allowFrom("namespaces", ["sleep"]),
      PolicyRequest(sourcePrincipal: sleepFoo), .deny, by: .nobody),
    c("DENY from namespace dev to POST (Istio example)", policy("deny-dev-post", """
    action: DENY
    rules:
    - from:
      - source:
          namespaces: ["dev"]
      to:
      - operation:
          methods: ["POST"]
    """), PolicyRequest(sourcePrincipal: "cluster.local/ns/dev/sa/app", method: "POST"), .deny, by: .rule("foo/deny-dev-post", 0)),
    c("DENY from namespace dev to POST lets dev GET", policy("deny-dev-post", """
    action: DENY
    rules:
    - from:
      - source:
          namespaces: ["dev"]
      to:
      - operation:
          methods: ["POST"]
    """), PolicyRequest(sourcePrincipal: "cluster.local/ns/dev/sa/app", method: "GET"), .allow, by: .nobody),
    c("explicit deny of a path for a namespace", policy("deny-admin-from-bar", """
    action: DENY
    rules:
    - from:
      - source:
          namespaces: ["bar"]
      to:
      - operation:
          paths: ["/admin", "/admin/*"]
    """), PolicyRequest(sourcePrincipal: clientBar, path: "/admin/settings"), .deny, by: .rule("foo/deny-admin-from-bar", 0)),
    c("explicit deny of a path for a namespace spares other namespaces", policy("deny-admin-from-bar", """
    action: DENY
    rules:
    - from:
      - source:
          namespaces: ["bar"]
      to:
      - operation:
          paths: ["/admin", "/admin/*"]
    """), PolicyRequest(sourcePrincipal: sleepFoo, path: "/admin/settings"), .allow, by: .nobody),
]

private let jwtCases: [ConformanceCase] = [
    c("requestPrincipals [*] (Istio: require a JWT on httpbin v1): with a token", policy("require-jwt", """
    selector:
      matchLabels:
        app: httpbin
        version: v1
    action: ALLOW
    rules:
    - from:
      - source:
          requestPrincipals: ["*"]
    """), at: httpbinV1, PolicyRequest(requestPrincipal: jwtUser), .allow, by: .rule("foo/require-jwt", 0)),
    c("requestPrincipals [*]: without a token", policy("require-jwt", """
    selector:
      matchLabels:
        app: httpbin
        version: v1
    action: ALLOW
    rules:
    - from:
      - source:
          requestPrincipals: ["*"]
    """), at: httpbinV1, PolicyRequest(sourcePrincipal: sleepFoo), .deny, by: .nobody),
    c("requestPrincipals exact <iss>/<sub>", allowFrom("requestPrincipals", [jwtUser]),
      PolicyRequest(requestPrincipal: jwtUser), .allow, by: .rule("foo/from", 0)),
    c("requestPrincipals: another subject", allowFrom("requestPrincipals", [jwtUser]),
      PolicyRequest(requestPrincipal: "testing@secure.istio.io/someone-else"), .deny, by: .nobody),
    c("exclusion (concepts): no JWT on /api is denied", requireJWTExceptHealth,
      PolicyRequest(path: "/api/orders"), .deny, by: .rule("foo/require-jwt", 0)),
    c("exclusion (concepts): no JWT on /healthz passes", requireJWTExceptHealth,
      PolicyRequest(path: "/healthz"), .allow, by: .nobody),
    c("exclusion (concepts): a JWT on /api passes", requireJWTExceptHealth,
      PolicyRequest(requestPrincipal: jwtUser, path: "/api/orders"), .allow, by: .nobody),
    c("claims[groups] (JWT task): any element of a list claim", allowWhen("request.auth.claims[groups]", values: ["group1"]),
      PolicyRequest(requestPrincipal: jwtUser, claims: ["groups": .array([.string("group2"), .string("group1")])]),
      .allow, by: .rule("foo/when", 0)),
    c("claims[groups]: not in the list", allowWhen("request.auth.claims[groups]", values: ["group1"]),
      PolicyRequest(requestPrincipal: jwtUser, claims: ["groups": .array([.string("group2")])]), .deny, by: .nobody),
    c("nested claim request.auth.claims[realm_access][roles]", allowWhen("request.auth.claims[realm_access][roles]", values: ["admin"]),
      PolicyRequest(requestPrincipal: jwtUser, claims: ["realm_access": .map(["roles": .array([.string("user"), .string("admin")])])]),
      .allow, by: .rule("foo/when", 0)),
    c("nested claim: the outer claim alone is not enough", allowWhen("request.auth.claims[realm_access][roles]", values: ["admin"]),
      PolicyRequest(requestPrincipal: jwtUser, claims: ["roles": .array([.string("admin")])]), .deny, by: .nobody),
    c("request.auth.audiences is the aud claim (a list)", allowWhen("request.auth.audiences", values: ["orders"]),
      PolicyRequest(requestPrincipal: jwtUser, claims: ["aud": .array([.string("web"), .string("orders")])]), .allow, by: .rule("foo/when", 0)),
    c("request.auth.audiences: a single other audience", allowWhen("request.auth.audiences", values: ["orders"]),
      PolicyRequest(requestPrincipal: jwtUser, claims: ["aud": .string("web")]), .deny, by: .nobody),
    c("request.auth.presenter is azp", allowWhen("request.auth.presenter", values: ["frontend"]),
      PolicyRequest(requestPrincipal: jwtUser, claims: ["azp": .string("frontend")]), .allow, by: .rule("foo/when", 0)),
    c("request.auth.presenter: another presenter", allowWhen("request.auth.presenter", values: ["frontend"]),
      PolicyRequest(requestPrincipal: jwtUser, claims: ["azp": .string("cli")]), .deny, by: .nobody),
    c("request.auth.principal in when", allowWhen("request.auth.principal", values: ["testing@secure.istio.io/*"]),
      PolicyRequest(requestPrincipal: jwtUser), .allow, by: .rule("foo/when", 0)),
    c("request.auth.principal in when: no token", allowWhen("request.auth.principal", values: ["testing@secure.istio.io/*"]),
      PolicyRequest(), .deny, by: .nobody),
]

private let whenCases: [ConformanceCase] = [
    c("explicit deny task: GET with x-token admin passes the DENY", denyMethodGet,
      PolicyRequest(method: "GET", headers: ["x-token": "admin"]), .allow, by: .nobody),
    c("explicit deny task: GET without x-token is denied", denyMethodGet,
      PolicyRequest(method: "GET"), .deny, by: .rule("foo/deny-method-get", 0)),
    c("explicit deny task: GET with another x-token is denied", denyMethodGet,
      PolicyRequest(method: "GET", headers: ["x-token": "guest"]), .deny, by: .rule("foo/deny-method-get", 0)),
    c("explicit deny task: sleep GET /ip as admin is allowed", docs(denyMethodGet, allowPathIP),
      PolicyRequest(sourcePrincipal: sleepFoo, method: "GET", path: "/ip", headers: ["x-token": "admin"]),
      .allow, by: .rule("foo/allow-path-ip", 0)),
    c("explicit deny task: sleep GET /headers as admin matches no ALLOW", docs(denyMethodGet, allowPathIP),
      PolicyRequest(sourcePrincipal: sleepFoo, method: "GET", path: "/headers", headers: ["x-token": "admin"]),
      .deny, by: .nobody),
    c("header names are case-insensitive in the key", allowWhen("request.headers[X-Token]", values: ["admin"]),
      PolicyRequest(headers: ["X-TOKEN": "admin"]), .allow, by: .rule("foo/when", 0)),
    c("header values are case-sensitive", allowWhen("request.headers[x-token]", values: ["admin"]),
      PolicyRequest(headers: ["x-token": "Admin"]), .deny, by: .nobody),
    c("when source.ip with a CIDR", allowWhen("source.ip", values: ["10.0.0.0/8"]),
      PolicyRequest(sourceIP: "10.20.30.40"), .allow, by: .rule("foo/when", 0)),
    c("when source.ip outside the CIDR", allowWhen("source.ip", values: ["10.0.0.0/8"]),
      PolicyRequest(sourceIP: "172.16.0.1"), .deny, by: .nobody),
    c("when remote.ip is the original client", allowWhen("remote.ip", values: ["1.2.3.0/24"]),
      PolicyRequest(sourceIP: "10.0.0.1", remoteIP: "1.2.3.4"), .allow, by: .rule("foo/when", 0)),
    c("when remote.ip notValues", allowWhen("remote.ip", notValues: ["1.2.3.0/24"]),
      PolicyRequest(sourceIP: "10.0.0.1", remoteIP: "1.2.3.4"), .deny, by: .nobody),
    c("when source.namespace", allowWhen("source.namespace", values: ["foo"]),
      PolicyRequest(sourcePrincipal: sleepFoo), .allow, by: .rule("foo/when", 0)),
    c("when source.namespace of another namespace", allowWhen("source.namespace", values: ["foo"]),
      PolicyRequest(sourcePrincipal: clientBar), .deny, by: .nobody),
    c("when source.principal", allowWhen("source.principal", values: [sleepFoo]),
      PolicyRequest(sourcePrincipal: sleepFoo), .allow, by: .rule("foo/when", 0)),
    c("when source.principal without mTLS", allowWhen("source.principal", values: ["*"]),
      PolicyRequest(sourceIP: "10.0.0.1"), .deny, by: .nobody),
    c("when destination.port", allowWhen("destination.port", values: ["8080", "8443"]),
      PolicyRequest(port: 8443), .allow, by: .rule("foo/when", 0)),
    c("when destination.port not listed", allowWhen("destination.port", values: ["8080", "8443"]),
      PolicyRequest(port: 80), .deny, by: .nobody),
    c("when connection.sni suffix", allowWhen("connection.sni", values: ["*.example.com"]),
      PolicyRequest(sni: "api.example.com"), .allow, by: .rule("foo/when", 0)),
    c("when connection.sni without SNI", allowWhen("connection.sni", values: ["*.example.com"]),
      PolicyRequest(), .deny, by: .nobody),
    c("when notValues holds for an absent header", allowWhen("request.headers[x-debug]", notValues: ["1"]),
      PolicyRequest(), .allow, by: .rule("foo/when", 0)),

    // Unknown `when` keys fail closed
    c("unknown when key: the ALLOW rule matches nothing", allowWhen("request.time", values: ["*"]),
      PolicyRequest(), .deny, by: .nobody, errors: .some),
    c("unknown when key: the DENY rule matches everything", policy("deny-weird", """
    action: DENY
    rules:
    - when:
      - key: source.user
        values: ["nobody"]
    """), PolicyRequest(sourcePrincipal: sleepFoo), .deny, by: .rule("foo/deny-weird", 0), errors: .some),
    c("when destination.ip: a DENY of every address denies (Istio evaluates destination.ip)", policy("deny-any-destination", """
    action: DENY
    rules:
    - when:
      - key: destination.ip
        values: ["0.0.0.0/0", "::/0"]
    """), PolicyRequest(sourceIP: "10.0.0.1", port: 8080), .deny, by: .rule("foo/deny-any-destination", 0), errors: .unchecked),
    c("when source.ip with a bad CIDR: the DENY fails closed, as a bad ipBlocks value does", policy("deny-bad-cidr", """
    action: DENY
    rules:
    - when:
      - key: source.ip
        values: ["10.0.0.0/33"]
    """), PolicyRequest(sourceIP: "10.1.1.1"), .deny, by: .rule("foo/deny-bad-cidr", 0), errors: .some),
    c("typo `form:` in an ALLOW rule fails closed (does not become allow-all)", policy("typo-form", """
    action: ALLOW
    rules:
    - form:
      - source:
          principals: ["cluster.local/ns/foo/sa/sleep"]
    """), PolicyRequest(sourcePrincipal: clientBar), .deny, by: .nobody, errors: .some),
    c("typo `sources:` in a from entry fails closed", policy("typo-sources", """
    action: ALLOW
    rules:
    - from:
      - sources:
          principals: ["cluster.local/ns/foo/sa/sleep"]
    """), PolicyRequest(sourcePrincipal: clientBar), .deny, by: .nobody, errors: .some),
    c("typo `path:` beside `methods:` fails closed (does not widen to every path)", policy("typo-path", """
    action: ALLOW
    rules:
    - to:
      - operation:
          methods: ["GET"]
          path: ["/public*"]
    """), PolicyRequest(method: "GET", path: "/private"), .deny, by: .nobody, errors: .some),
    c("unknown when key in rule 0 leaves rule 1 to match", policy("mixed", """
    action: ALLOW
    rules:
    - when:
      - key: request.cookie[session]
        values: ["*"]
    - to:
      - operation:
          methods: ["GET"]
    """), PolicyRequest(method: "GET"), .allow, by: .rule("foo/mixed", 1), errors: .some),
]

private let scopeCases: [ConformanceCase] = [
    c("a policy of another namespace does not apply", docs(policy("deny-all", ns: "bar", "action: DENY\nrules:\n- {}")),
      PolicyRequest(), .allow, by: .nobody),
    c("a policy of the workload's namespace applies to all its workloads",
      policy("deny-all", "action: DENY\nrules:\n- {}"), at: PolicyWorkload(name: "orders", namespace: "foo"),
      PolicyRequest(), .deny, by: .rule("foo/deny-all", 0)),
    c("root namespace policies apply mesh-wide", policy("deny-all", ns: meshRoot, "action: DENY\nrules:\n- {}"),
      PolicyRequest(), .deny, by: .rule("istio-system/deny-all", 0)),
    c("root namespace allow-nothing makes every workload default-deny", policy("allow-nothing", ns: meshRoot, "{}"),
      at: PolicyWorkload(name: "orders", namespace: "shop"), PolicyRequest(), .deny, by: .nobody),
    c("root namespace ALLOW plus a namespace ALLOW: either may allow", docs(
        policy("mesh-get", ns: meshRoot, "action: ALLOW\nrules:\n- to:\n  - operation:\n      methods: [\"GET\"]"),
        allowTo("methods", ["POST"], name: "local-post")),
      PolicyRequest(method: "GET"), .allow, by: .rule("istio-system/mesh-get", 0)),
    c("root namespace policy with a selector spares other apps", policy("gateway-only", ns: meshRoot, """
    selector:
      matchLabels:
        app: istio-ingressgateway
    action: DENY
    rules:
    - {}
    """), PolicyRequest(), .allow, by: .nobody),
    c("root namespace policy with a selector applies in any namespace", policy("httpbin-only", ns: meshRoot, """
    selector:
      matchLabels:
        app: httpbin
    action: DENY
    rules:
    - {}
    """), PolicyRequest(), .deny, by: .rule("istio-system/httpbin-only", 0)),
    c("selector: every label must match (v2 is not v1)", policy("v1-deny", """
    selector:
      matchLabels:
        app: httpbin
        version: v1
    action: DENY
    rules:
    - {}
    """), at: httpbinV2, PolicyRequest(), .allow, by: .nobody),
    c("selector: every label matches", policy("v1-deny", """
    selector:
      matchLabels:
        app: httpbin
        version: v1
    action: DENY
    rules:
    - {}
    """), at: httpbinV1, PolicyRequest(), .deny, by: .rule("foo/v1-deny", 0)),
    c("selector: app defaults to the workload's name", policy("orders-only", """
    selector:
      matchLabels:
        app: orders
    action: ALLOW
    rules:
    - to:
      - operation:
          methods: ["GET"]
    """), at: PolicyWorkload(name: "orders", namespace: "foo"), PolicyRequest(method: "POST"), .deny, by: .nobody),
    c("selector: a label the workload lacks (an allow-nothing for canaries only)", policy("canary-only", """
    selector:
      matchLabels:
        track: canary
    """), PolicyRequest(), .allow, by: .nobody),
    c("selector: the canary it selects is default-deny", policy("canary-only", """
    selector:
      matchLabels:
        track: canary
    """), at: PolicyWorkload(name: "httpbin", namespace: "foo", labels: ["track": "canary"]), PolicyRequest(), .deny, by: .nobody),
]

// MARK: - Suite

@Suite struct ConformanceTests {
    static let cases: [ConformanceCase] = actionCases + ruleCases + matchingCases + jwtCases + whenCases + scopeCases

    @Test func theTableIsLargeAndNamesAreUnique() {
        #expect(Self.cases.count >= 70)
        let names = Self.cases.map(\.name)
        #expect(Set(names).count == names.count, "duplicate case names: \(Dictionary(grouping: names, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted())")
    }

    @Test(arguments: ConformanceTests.cases)
    func conformance(_ c: ConformanceCase) {
        let parsed = PolicyDocuments.parse(c.yaml, file: "case.yaml")
        let errors = parsed.diagnostics.filter { $0.severity == .error }
        switch c.errors {
        case .some: #expect(!errors.isEmpty, "an error diagnostic was expected")
        case .none: #expect(errors.isEmpty, "unexpected errors: \(errors.map { "\($0.location?.line ?? 0): \($0.message)" })\n\(c.yaml)")
        case .unchecked: break
        }
        #expect(!parsed.authorizationPolicies.isEmpty || c.yaml.isEmpty, "no policy was read from:\n\(c.yaml)")

        let decision = PolicyEngine(policies: parsed.authorizationPolicies).evaluate(c.request, at: c.workload)
        let context = "reason: \(decision.reason)\nconsidered: \(decision.considered.map { "\($0.policy) \($0.why)" })"
        #expect(decision.verdict == c.verdict, "\(context)")
        switch c.by {
        case .unchecked: break
        case .nobody:
            #expect(decision.decidedBy == nil, "\(context)")
        case .rule(let policy, let rule):
            #expect(decision.decidedBy?.policy == policy, "\(context)")
            #expect(decision.decidedBy?.rule == rule, "\(context)")
        }
        if let audited = c.audited {
            #expect(decision.audited.map(\.policy) == audited, "audited: \(decision.audited)")
        }
        if let dryRun = c.dryRun {
            if dryRun.isEmpty {
                #expect(decision.dryRun.isEmpty, "dryRun: \(decision.dryRun)")
            }
            for id in dryRun {
                #expect(decision.dryRun.contains { $0.contains(id) }, "\(id) not in dryRun: \(decision.dryRun)")
            }
        }
        if let unsupported = c.unsupported {
            for id in unsupported {
                #expect(decision.unsupported.contains { $0.contains(id) }, "\(id) not in unsupported: \(decision.unsupported)")
            }
        }
    }

    @Test func theRootNamespaceCanBeChanged() {
        let parsed = PolicyDocuments.parse(policy("deny-all", ns: "mesh-root", "action: DENY\nrules:\n- {}"), file: "root.yaml")
        let workload = PolicyWorkload(name: "orders", namespace: "shop")
        #expect(PolicyEngine(policies: parsed.authorizationPolicies).evaluate(PolicyRequest(), at: workload).verdict == .allow)
        let engine = PolicyEngine(policies: parsed.authorizationPolicies, rootNamespace: "mesh-root")
        #expect(engine.evaluate(PolicyRequest(), at: workload).verdict == .deny)
        #expect(engine.evaluate(PolicyRequest(), at: workload).decidedBy?.policy == "mesh-root/deny-all")
    }

    // MARK: Diagnostics

    /// The line (1-based) of the first line of `text` containing `needle`.
    static func line(of needle: String, in text: String) -> Int? {
        text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(needle) }.map { $0 + 1 }
    }

    @Test func unknownFieldIsAnErrorAtItsLine() throws {
        let yaml = policy("typo", """
        action: ALLOW
        rules:
        - to:
          - operation:
              method: ["GET"]
        """)
        let parsed = PolicyDocuments.parse(yaml, file: "typo.yaml")
        let error = try #require(parsed.diagnostics.first { $0.severity == .error })
        #expect(error.message.contains("method"))
        #expect(error.location?.line == Self.line(of: "method:", in: yaml))
        #expect(error.location?.file == "typo.yaml")
        #expect(error.hint?.contains("methods") == true, "a near key is suggested: \(error.hint ?? "none")")

        let specTypo = policy("spec-typo", "action: DENY\nrulez:\n- {}")
        let specError = try #require(PolicyDocuments.parse(specTypo, file: "t.yaml").diagnostics.first { $0.severity == .error })
        #expect(specError.message.contains("rulez"))
        #expect(specError.location?.line == Self.line(of: "rulez", in: specTypo))
    }

    @Test func badActionIsAnErrorAndThePolicyIsDropped() throws {
        let yaml = policy("bad-action", "action: PERMIT\nrules:\n- {}")
        let parsed = PolicyDocuments.parse(yaml, file: "a.yaml")
        let error = try #require(parsed.diagnostics.first { $0.severity == .error })
        #expect(error.message.contains("PERMIT"))
        #expect(error.message.contains("ALLOW") && error.message.contains("DENY"), "the allowed actions are listed: \(error.message)")
        #expect(error.location?.line == Self.line(of: "PERMIT", in: yaml))
        #expect(parsed.authorizationPolicies.isEmpty)

        let lower = PolicyDocuments.parse(policy("lower", "action: deny\nrules:\n- {}"), file: "a.yaml")
        #expect(lower.diagnostics.contains { $0.severity == .error }, "actions are upper-case enum values")
    }

    @Test func unknownWhenKeyIsAnErrorAndTheRuleFailsClosed() throws {
        let yaml = allowWhen("request.header[x-token]", values: ["admin"], name: "typo-when")
        let parsed = PolicyDocuments.parse(yaml, file: "w.yaml")
        let error = try #require(parsed.diagnostics.first { $0.severity == .error })
        #expect(error.message.contains("request.header[x-token]"))
        #expect(error.location?.line == Self.line(of: "key:", in: yaml))
        let policy = try #require(parsed.authorizationPolicies.first)
        #expect(policy.rules.first?.unsupported.isEmpty == false, "the rule is marked unsupported")
        let decision = PolicyEngine(policies: parsed.authorizationPolicies)
            .evaluate(PolicyRequest(headers: ["x-token": "admin"]), at: httpbin)
        #expect(decision.verdict == .deny)

        // Keys Istio knows are not errors.
        for key in ["request.headers[x-a]", "source.ip", "remote.ip", "source.namespace", "source.principal",
                    "request.auth.principal", "request.auth.audiences", "request.auth.presenter",
                    "request.auth.claims[groups]", "request.auth.claims[a][b]", "destination.port", "connection.sni"] {
            // A value of the key's kind (addresses and ports are checked too).
            let value = key.hasSuffix(".ip") ? "10.0.0.1" : key == "destination.port" ? "8080" : "x"
            let ok = PolicyDocuments.parse(allowWhen(key, values: [value]), file: "k.yaml")
            #expect(!ok.diagnostics.contains { $0.severity == .error }, "\(key): \(ok.diagnostics.map(\.message))")
        }
        // A `when` without values or notValues is invalid.
        let noValues = PolicyDocuments.parse(allowWhen("source.ip"), file: "k.yaml")
        #expect(noValues.diagnostics.contains { $0.severity == .error })
    }

    @Test func badCIDRIsAnErrorAtItsLine() throws {
        let yaml = policy("bad-cidr", """
        action: DENY
        rules:
        - from:
          - source:
              ipBlocks:
              - 10.0.0.0/8
              - 10.0.0.0/33
              - 300.1.2.3
        """)
        let parsed = PolicyDocuments.parse(yaml, file: "ip.yaml")
        let errors = parsed.diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 2, "\(errors.map(\.message))")
        #expect(errors.contains { $0.message.contains("10.0.0.0/33") && $0.location?.line == Self.line(of: "/33", in: yaml) })
        #expect(errors.contains { $0.message.contains("300.1.2.3") && $0.location?.line == Self.line(of: "300.1.2.3", in: yaml) })
        // A DENY rule it cannot read denies (fails closed).
        let decision = PolicyEngine(policies: parsed.authorizationPolicies).evaluate(PolicyRequest(sourceIP: "192.168.0.1"), at: httpbin)
        #expect(decision.verdict == .deny)
    }

    @Test func badPortIsAnError() throws {
        let yaml = policy("bad-port", """
        action: ALLOW
        rules:
        - to:
          - operation:
              ports: ["8080", "http", "70000"]
        """)
        let parsed = PolicyDocuments.parse(yaml, file: "p.yaml")
        let errors = parsed.diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 2, "\(errors.map(\.message))")
        #expect(errors.contains { $0.message.contains("http") })
        #expect(errors.contains { $0.message.contains("70000") })
        #expect(errors.allSatisfy { $0.location?.line == Self.line(of: "ports:", in: yaml) })
        // An ALLOW rule it cannot read allows nothing.
        let decision = PolicyEngine(policies: parsed.authorizationPolicies).evaluate(PolicyRequest(port: 8080), at: httpbin)
        #expect(decision.verdict == .deny)
    }

    @Test func invalidPathTemplatesAreErrors() throws {
        // Istio's own invalid examples, plus `{*}` sharing a segment.
        for bad in ["/{**}/foo/{*}", "/*/baz/{*}", "/**/baz/{*}", "/foo/{*}.txt"] {
            let yaml = allowTo("paths", [bad])
            let parsed = PolicyDocuments.parse(yaml, file: "t.yaml")
            let error = parsed.diagnostics.first { $0.severity == .error }
            #expect(error != nil, "\(bad) should be rejected")
            #expect(error?.message.contains(bad) == true, "\(error?.message ?? "none")")
            #expect(error?.location?.line == Self.line(of: "paths:", in: yaml))
        }
        // Valid templates are not errors.
        for good in ["/foo/{*}", "/foo/{*}/bar/{**}", "/users/{*}/orders/{*}"] {
            let parsed = PolicyDocuments.parse(allowTo("paths", [good]), file: "t.yaml")
            #expect(!parsed.diagnostics.contains { $0.severity == .error }, "\(good): \(parsed.diagnostics.map(\.message))")
        }
    }

    @Test func customWithoutProviderIsAnError() throws {
        let yaml = policy("ext", "action: CUSTOM\nrules:\n- {}")
        let parsed = PolicyDocuments.parse(yaml, file: "c.yaml")
        let error = try #require(parsed.diagnostics.first { $0.severity == .error })
        #expect(error.message.contains("provider"))
        #expect(parsed.authorizationPolicies.isEmpty)

        let providerOnAllow = PolicyDocuments.parse(policy("allow-ext", "action: ALLOW\nprovider:\n  name: x\nrules:\n- {}"), file: "c.yaml")
        #expect(providerOnAllow.diagnostics.contains { $0.severity == .error && $0.message.contains("provider") })

        let ok = PolicyDocuments.parse(policy("ext", "action: CUSTOM\nprovider:\n  name: my-authz\nrules:\n- {}"), file: "c.yaml")
        #expect(ok.diagnostics.isEmpty)
        #expect(ok.authorizationPolicies.first?.provider == "my-authz")
    }

    @Test func oneBrokenDocumentDoesNotHideTheOthers() throws {
        let yaml = docs(
            policy("first", "action: DENY\nrules:\n- to:\n  - operation:\n      paths: [\"/admin\"]"),
            policy("broken", "action: REJECT\nrules:\n- {}"),
            policy("third", ns: "bar", "{}"))
        let parsed = PolicyDocuments.parse(yaml, file: "multi.yaml")
        #expect(parsed.authorizationPolicies.map(\.id) == ["foo/first", "bar/third"])
        let errors = parsed.diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 1)
        #expect(errors.first?.location?.line == Self.line(of: "REJECT", in: yaml))
        #expect(errors.first?.location?.file == "multi.yaml")
        // The third document's location is its own, in the same file.
        let third = try #require(parsed.authorizationPolicies.last)
        #expect((third.location?.line ?? 0) > (Self.line(of: "REJECT", in: yaml) ?? .max))
    }

    @Test func otherKindsAreSkippedWithAWarning() throws {
        let yaml = docs("""
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata:
          name: strict
          namespace: foo
        spec:
          mtls:
            mode: STRICT

        """, """
        apiVersion: v1
        kind: Service
        metadata:
          name: httpbin

        """, policy("kept", "action: DENY\nrules:\n- {}"), """
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata:
          name: jwt-example
          namespace: foo
        spec:
          selector:
            matchLabels:
              app: httpbin
          jwtRules:
          - issuer: "testing@secure.istio.io"
            jwksUri: "https://example.com/jwks.json"

        """)
        let parsed = PolicyDocuments.parse(yaml, file: "mixed.yaml")
        #expect(!parsed.diagnostics.contains { $0.severity == .error }, "\(parsed.diagnostics.map(\.message))")
        let warnings = parsed.diagnostics.filter { $0.severity == .warning }
        #expect(warnings.count == 2, "\(warnings.map(\.message))")
        #expect(warnings.contains { $0.message.contains("PeerAuthentication") && $0.location?.line == Self.line(of: "PeerAuthentication", in: yaml) })
        #expect(warnings.contains { $0.message.contains("Service") })
        #expect(parsed.authorizationPolicies.map(\.id) == ["foo/kept"])
        #expect(parsed.requestAuthentications.map(\.id) == ["foo/jwt-example"])
        #expect(parsed.requestAuthentications.first?.jwtRules.first?.issuer == "testing@secure.istio.io")
    }

    /// Istio's validation refuses a `from.source` or `to.operation` with no field set (and an
    /// ALLOW that matched everything because of it would widen access silently).
    @Test func emptySourceOrOperationIsAnError() {
        let emptySource = PolicyDocuments.parse(policy("empty-source", """
        action: ALLOW
        rules:
        - from:
          - source: {}
        """), file: "e.yaml")
        #expect(emptySource.diagnostics.contains { $0.severity == .error }, "`from.source` must not be empty")
        let emptyOperation = PolicyDocuments.parse(policy("empty-op", """
        action: ALLOW
        rules:
        - to:
          - operation: {}
        """), file: "e.yaml")
        #expect(emptyOperation.diagnostics.contains { $0.severity == .error }, "`to.operation` must not be empty")
    }

    /// Istio's validation also refuses `from: []`, `to: []` and empty values (`paths: [""]`).
    @Test func emptyFromToAndEmptyValuesAreErrors() {
        for (what, spec) in [
            ("from: []", "action: ALLOW\nrules:\n- from: []"),
            ("to: []", "action: ALLOW\nrules:\n- to: []"),
            ("paths: [\"\"]", "action: ALLOW\nrules:\n- to:\n  - operation:\n      paths: [\"\"]"),
            ("principals: [\"\"]", "action: ALLOW\nrules:\n- from:\n  - source:\n      principals: [\"\"]"),
        ] {
            let parsed = PolicyDocuments.parse(policy("empty", spec), file: "e.yaml")
            #expect(parsed.diagnostics.contains { $0.severity == .error }, "\(what) should be refused as Istio does")
        }
    }

    /// Istio validates `when` values of address and port keys as it does ipBlocks and ports.
    @Test func badWhenValuesAreErrors() {
        for (key, value) in [("source.ip", "10.0.0.0/33"), ("remote.ip", "not-an-ip"), ("destination.ip", "300.0.0.1"),
                             ("destination.port", "http"), ("destination.port", "70000")] {
            let yaml = allowWhen(key, values: [value])
            let parsed = PolicyDocuments.parse(yaml, file: "v.yaml")
            let error = parsed.diagnostics.first { $0.severity == .error }
            #expect(error?.message.contains(value) == true, "\(key): \(value) should be refused: \(parsed.diagnostics.map(\.message))")
        }
    }

    /// Istio refuses a DENY without `rules` ("meaningless as it will never be triggered"); a user
    /// who meant deny-all must hear about it.
    @Test func denyWithoutRulesIsReported() {
        let parsed = PolicyDocuments.parse(policy("deny-nothing", "action: DENY"), file: "d.yaml")
        #expect(!parsed.diagnostics.isEmpty, "a DENY without rules never triggers")
        #expect(parsed.diagnostics.first?.message.contains("rules") == true, "\(parsed.diagnostics.map(\.message))")
    }

    @Test func invalidYAMLIsOneError() {
        let parsed = PolicyDocuments.parse("kind: AuthorizationPolicy\nmetadata: {name: [unclosed\n", file: "bad.yaml")
        #expect(parsed.diagnostics.count == 1)
        #expect(parsed.diagnostics.first?.severity == .error)
        #expect(parsed.authorizationPolicies.isEmpty)
    }

    @Test func aPolicyNeedsAName() {
        let parsed = PolicyDocuments.parse("""
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          namespace: foo
        spec: {}
        """, file: "n.yaml")
        #expect(parsed.diagnostics.contains { $0.severity == .error && $0.message.contains("name") })
        #expect(parsed.authorizationPolicies.isEmpty)
    }

    // MARK: Explanations

    @Test func aDenyNamesThePolicyAndRule() throws {
        let parsed = PolicyDocuments.parse(docs(allowAll, denyTo("paths", ["/admin*"], name: "block-admin")), file: "r.yaml")
        let decision = PolicyEngine(policies: parsed.authorizationPolicies).evaluate(PolicyRequest(path: "/admin/x"), at: httpbin)
        #expect(decision.reason.contains("foo/block-admin"))
        #expect(decision.reason.contains("rule 0"))
        #expect(decision.reason.lowercased().contains("deny"))
        let considered = try #require(decision.considered.first { $0.policy == "foo/block-admin" })
        #expect(considered.action == "DENY")
        #expect(considered.matchedRule == 0)
        #expect(decision.considered.map(\.policy).sorted() == ["foo/allow-all", "foo/block-admin"])
    }

    @Test func anAllowNamesThePolicyAndRule() {
        let parsed = PolicyDocuments.parse(allowPathIP, file: "r.yaml")
        let decision = PolicyEngine(policies: parsed.authorizationPolicies)
            .evaluate(PolicyRequest(sourcePrincipal: sleepFoo, method: "GET", path: "/ip"), at: httpbin)
        #expect(decision.reason.contains("foo/allow-path-ip"))
        #expect(decision.reason.contains("rule 0"))
        #expect(decision.reason.lowercased().contains("allow"))
    }

    @Test func noAllowMatchedListsThePoliciesAndWhyEachRuleMissed() throws {
        let parsed = PolicyDocuments.parse(docs(allowTo("methods", ["GET"], name: "reads"), allowPathIP), file: "r.yaml")
        let decision = PolicyEngine(policies: parsed.authorizationPolicies)
            .evaluate(PolicyRequest(sourcePrincipal: clientBar, method: "POST", path: "/ip"), at: httpbin)
        #expect(decision.verdict == .deny)
        #expect(decision.reason.contains("foo/reads"))
        #expect(decision.reason.contains("foo/allow-path-ip"))
        #expect(decision.reason.contains("foo/httpbin"), "the workload is named: \(decision.reason)")
        let reads = try #require(decision.considered.first { $0.policy == "foo/reads" })
        #expect(reads.matchedRule == nil)
        let why = reads.why.joined(separator: " ")
        #expect(why.contains("methods") && why.contains("POST") && why.contains("GET"), "why names the field and both values: \(why)")
        let ip = try #require(decision.considered.first { $0.policy == "foo/allow-path-ip" })
        let ipWhy = ip.why.joined(separator: " ")
        #expect(ipWhy.contains("principals") && ipWhy.contains(clientBar), "\(ipWhy)")
    }

    @Test func noAllowPolicySaysSo() {
        let decision = PolicyEngine(policies: []).evaluate(PolicyRequest(), at: httpbin)
        #expect(decision.verdict == .allow)
        #expect(decision.decidedBy == nil)
        #expect(decision.reason.contains("no ALLOW policy"))
        #expect(decision.considered.isEmpty)
    }

    @Test func allowNothingSaysItHasNoRules() throws {
        let parsed = PolicyDocuments.parse(allowNothing, file: "r.yaml")
        let decision = PolicyEngine(policies: parsed.authorizationPolicies).evaluate(PolicyRequest(), at: httpbin)
        #expect(decision.reason.contains("foo/allow-nothing"))
        let considered = try #require(decision.considered.first)
        #expect(considered.why.joined().contains("no rules"))
    }

    @Test func failingClosedIsExplained() throws {
        let parsed = PolicyDocuments.parse(allowWhen("request.time", values: ["*"], name: "timed"), file: "r.yaml")
        let decision = PolicyEngine(policies: parsed.authorizationPolicies).evaluate(PolicyRequest(), at: httpbin)
        let why = try #require(decision.considered.first).why.joined(separator: " ")
        #expect(why.contains("fails closed"), "\(why)")
        #expect(why.contains("request.time"), "\(why)")
    }

    @Test func otherNamespacesAreNotConsidered() {
        let parsed = PolicyDocuments.parse(docs(allowAll, policy("elsewhere", ns: "bar", "{}")), file: "r.yaml")
        let decision = PolicyEngine(policies: parsed.authorizationPolicies).evaluate(PolicyRequest(), at: httpbin)
        #expect(decision.considered.map(\.policy) == ["foo/allow-all"])
    }

    @Test func dryRunAndCustomAreExplained() throws {
        let parsed = PolicyDocuments.parse(docs(
            policy("would-deny", dryRun: "true", "action: DENY\nrules:\n- {}"),
            policy("ext", "action: CUSTOM\nprovider:\n  name: opa\nrules:\n- {}")), file: "r.yaml")
        let decision = PolicyEngine(policies: parsed.authorizationPolicies).evaluate(PolicyRequest(), at: httpbin)
        #expect(decision.verdict == .allow)
        let dry = try #require(decision.dryRun.first)
        #expect(dry.contains("foo/would-deny") && dry.contains("deny"), "\(dry)")
        let custom = try #require(decision.unsupported.first)
        #expect(custom.contains("foo/ext") && custom.contains("opa"), "\(custom)")
        #expect(decision.considered.first { $0.policy == "foo/would-deny" }?.dryRun == true)
    }
}
