import DevMeshCore
import Testing

@Suite struct CORSPolicyTests {
    let policy = CORSPolicy(origins: ["https://app.example", "http://localhost:3000"], headers: ["content-type", "authorization"],
                            exposeHeaders: ["X-Total"], credentials: true, maxAgeSeconds: 120)

    func names(_ fields: [CORSPolicy.HTTPFieldPair]) -> [String: String] {
        Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func anAllowedPreflightIsAnsweredWithWhatItMayDo() throws {
        guard case .preflight(let fields) = policy.evaluate(method: "OPTIONS", origin: "https://app.example", requestMethod: "put",
                                                             requestHeaders: "Content-Type, Authorization") else {
            Issue.record("expected a preflight answer")
            return
        }
        let f = names(fields)
        #expect(f["Access-Control-Allow-Origin"] == "https://app.example", "the origin echoed: credentials forbid `*`")
        #expect(f["Access-Control-Allow-Credentials"] == "true")
        #expect(f["Access-Control-Allow-Methods"] == "GET, HEAD, POST, PUT, PATCH, DELETE")
        #expect(f["Access-Control-Allow-Headers"] == "content-type, authorization")
        #expect(f["Access-Control-Max-Age"] == "120")
        #expect(f["Vary"]?.contains("Origin") == true)
    }

    @Test func refusedPreflightsSayWhy() {
        #expect(policy.evaluate(method: "OPTIONS", origin: "https://evil.example", requestMethod: "GET", requestHeaders: nil)
            == .preflightDenied("origin `https://evil.example` is not in this route's `cors.origins` (https://app.example, http://localhost:3000)"))
        guard case .preflightDenied(let method) = policy.evaluate(method: "OPTIONS", origin: "https://app.example", requestMethod: "TRACE", requestHeaders: nil),
              case .preflightDenied(let header) = policy.evaluate(method: "OPTIONS", origin: "https://app.example", requestMethod: "GET", requestHeaders: "X-Debug")
        else {
            Issue.record("expected refusals")
            return
        }
        #expect(method.contains("method TRACE"))
        #expect(header.contains("`x-debug`"))
    }

    @Test func actualRequestsGetTheirFieldsOnlyFromAllowedOrigins() {
        guard case .actual(let fields) = policy.evaluate(method: "GET", origin: "http://localhost:3000", requestMethod: nil, requestHeaders: nil) else {
            Issue.record("expected an actual request")
            return
        }
        #expect(names(fields)["Access-Control-Expose-Headers"] == "X-Total")
        #expect(policy.evaluate(method: "GET", origin: "http://localhost:3001", requestMethod: nil, requestHeaders: nil) == .actual(fields: []))
        #expect(policy.evaluate(method: "GET", origin: nil, requestMethod: nil, requestHeaders: nil) == .notCrossOrigin)
        // OPTIONS without Access-Control-Request-Method is an ordinary request, forwarded.
        if case .preflight = policy.evaluate(method: "OPTIONS", origin: "https://app.example", requestMethod: nil, requestHeaders: nil) {
            Issue.record("not a preflight")
        }
    }

    @Test func anyOriginWithoutCredentialsIsAStar() {
        let open = CORSPolicy(origins: ["*"])
        guard case .preflight(let fields) = open.evaluate(method: "OPTIONS", origin: "https://x.example", requestMethod: "GET", requestHeaders: "X-Anything") else {
            Issue.record("expected a preflight answer")
            return
        }
        #expect(names(fields)["Access-Control-Allow-Origin"] == "*")
        #expect(names(fields)["Access-Control-Allow-Headers"] == "x-anything", "no `headers`: what is asked for is allowed")
    }

    @Test func originsAreCheckedInTheConfig() {
        #expect(CORSPolicy.problem(withOrigin: "https://app.example") == nil)
        #expect(CORSPolicy.problem(withOrigin: "app.example")?.contains("scheme://host") == true)
        #expect(CORSPolicy.problem(withOrigin: "https://app.example/")?.contains("no path") == true)
        #expect(CORSPolicy.problem(withOrigin: "https://*.example")?.contains("wildcards") == true)
        let loaded = ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": """
            services:
              api: {run: ./api}
            gateway:
              routes:
                - {path: /a, to: api, cors: {origins: ["*"], credentials: true}}
                - {path: /b, to: api, cors: {origins: [app.example]}}
                - {path: /c, to: api, cors: {methods: [GET]}}
                - {path: /d, to: api, cors: {origins: ["http://localhost:3000"], methods: [get], max_age: 1h, expose_headers: [X-Total]}}
            """]), environment: [:], purpose: .check, workingDirectory: "/s").load()
        let messages = loaded.diagnostics.map(\.message)
        #expect(messages.contains { $0.contains("browsers refuse a wildcard origin with credentials") }, "\(messages)")
        #expect(messages.contains { $0.contains("`app.example` is not an origin") }, "\(messages)")
        #expect(messages.contains { $0.contains("`cors` needs `origins`") }, "\(messages)")
        #expect(!messages.contains { $0.contains("not implemented") && $0.contains("cors") }, "cors works now: \(messages)")
        let d = loaded.config?.gateway.routes.last?.cors?.policy
        #expect(d?.methods == ["GET"] && d?.maxAgeSeconds == 3600 && d?.exposeHeaders == ["X-Total"])
    }
}
