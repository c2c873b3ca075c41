import DevMeshCore
import Testing

/// The pure parts of the ambassador: the `external:` schema, its URL, the circuit breaker.
@Suite struct ExternalModelTests {
    func load(_ yaml: String, env: [String: String] = [:]) -> LoadedConfig {
        ConfigLoader(files: InMemoryFiles(["/s/devmesh.yaml": yaml, "/s/Procfile": "orders: run-orders\n"]), environment: env,
                     purpose: .check, workingDirectory: "/s").load()
    }

    @Test func everyKeyIsReadWithItsDefaults() throws {
        let loaded = load("""
            services:
              orders: {upstreams: [payments, maps]}
            external:
              payments:
                url: https://api.payments.example/v1/
                ca: certs/ca.pem
                headers: {Authorization: "Bearer ${T}"}
                timeout: 3s
                retries: 0
                circuit_breaker: {failures: 2, open_for: 10s}
                match: {headers: [Idempotency-Key], body: [order.id, amount]}
                mode: replay-or-live
              maps: {url: "http://maps.local:8081"}
            """, env: ["T": "x"])
        #expect(loaded.diagnostics.filter { $0.severity == .error }.isEmpty, "\(loaded.diagnostics)")
        let config = try #require(loaded.config)
        let payments = try #require(config.externals.first)
        #expect(payments.ca == "certs/ca.pem" && payments.timeout == .seconds(3) && payments.retries == 0)
        #expect(payments.breaker == ExternalConfig.Breaker(failures: 2, openFor: .seconds(10)))
        #expect(payments.match == ExternalConfig.Match(headers: ["Idempotency-Key"], body: ["order.id", "amount"]))
        #expect(payments.mode == .replayOrLive && payments.workload == "external-payments")
        #expect(payments.base == ExternalURL("https://api.payments.example/v1"))
        let maps = config.externals[1]
        #expect(maps.timeout == ExternalConfig.defaultTimeout && maps.retries == 2 && maps.mode == .live && maps.breaker.failures == 5)
        #expect(!loaded.diagnostics.contains { $0.message.contains("not implemented") })
    }

    @Test func badValuesAreErrorsThatSayWhatToDo() throws {
        let loaded = load("""
            services:
              external-payments: {upstreams: [payments]}
            external:
              payments:
                url: https://user@api.example/x?y=1
                headers: {Host: a.example, "bad name": x}
                retries: 11
                match: {body: ["a..b"]}
                circuit_breaker: {failures: 0}
                mode: offline
            """)
        let messages = loaded.diagnostics.filter { $0.severity == .error }.map(\.message)
        #expect(messages.contains { $0.contains("is not a usable base URL") }, "\(messages)")
        #expect(messages.contains { $0.contains("`Host` in `headers` of external `payments` is set by the ambassador itself") })
        #expect(messages.contains { $0.contains("`bad name` in `headers`") })
        #expect(messages.contains { $0.contains("`retries` of external `payments` must be between 0 and 10") })
        #expect(messages.contains { $0.contains("`a..b` in `match.body`") })
        #expect(messages.contains { $0.contains("`circuit_breaker.failures`") })
        #expect(messages.contains { $0.contains("`mode` of external `payments` must be one of") })
        #expect(messages.contains { $0.contains("the workload `external-payments`, which is also a service") })
    }

    @Test func baseURLsAndTheTargetsTheyMake() {
        let api = ExternalURL("https://API.example.com/v1/")
        #expect(api?.host == "api.example.com" && api?.port == 443 && api?.path == "/v1" && api?.authority == "api.example.com")
        #expect(api?.url(for: "/charges?id=7") == "https://api.example.com/v1/charges?id=7")
        let local = ExternalURL("http://127.0.0.1:8081")
        #expect(local?.isTLS == false && local?.port == 8081 && local?.authority == "127.0.0.1:8081" && local?.url(for: "/") == "http://127.0.0.1:8081/")
        #expect(ExternalURL("https://[::1]:9443/a")?.authority == "[::1]:9443")
        for bad in ["ftp://x", "https://", "https://a:99999", "https://a/b?c", "https://u@a", "https://a b"] {
            #expect(ExternalURL(bad) == nil, "\(bad)")
        }
    }

    @Test func theBreakerOpensAfterFailuresAndProbesOnceWhenItsTimeIsUp() {
        var breaker = CircuitBreaker(failures: 3, openFor: .seconds(10))
        #expect(breaker.admit(now: 0) == .allowed(generation: 0))
        breaker.record(success: false, now: 0, generation: 0)
        breaker.record(success: false, now: 1, generation: 0)
        breaker.record(success: true, now: 2, generation: 0)
        #expect(breaker.state == .closed && breaker.consecutiveFailures == 0, "a success resets the count")
        for t in 3...5 { breaker.record(success: false, now: Double(t), generation: 0) }
        #expect(breaker.state == .open && breaker.openings == 1)
        #expect(breaker.admit(now: 6) == .refused(retryAfter: 9))
        // Calls in flight when it opened report late: they change nothing.
        breaker.record(success: true, now: 7, generation: 0)
        breaker.record(success: false, now: 7, generation: 0)
        #expect(breaker.state == .open && breaker.openings == 1 && breaker.admit(now: 8) == .refused(retryAfter: 7))
        guard case .probe(let probe) = breaker.admit(now: 15) else {
            Issue.record("after open_for one probe goes")
            return
        }
        #expect(breaker.state == .halfOpen)
        if case .refused = breaker.admit(now: 15.1) {} else { Issue.record("only one probe at a time") }
        breaker.abandonProbe(generation: probe)
        guard case .probe(let second) = breaker.admit(now: 15.2) else {
            Issue.record("an abandoned probe lets the next call probe")
            return
        }
        breaker.record(success: false, now: 16, generation: second)
        #expect(breaker.state == .open && breaker.openings == 2, "a failed probe opens it again")
        guard case .probe(let third) = breaker.admit(now: 26) else {
            Issue.record("probe after the second opening")
            return
        }
        breaker.record(success: true, now: 26.5, generation: third)
        #expect(breaker.state == .closed)
        if case .allowed = breaker.admit(now: 27) {} else { Issue.record("closed again") }
    }
}
