import DevMeshCore
import DevMeshProxy
import DevMeshTesting
import Foundation
import NIOPosix
import Testing

@Suite(.timeLimit(.minutes(2))) struct ProxyTests {
    @Test func forwardsAGetAndRecordsASpanAndAnAccessRecord() async throws {
        let f = try await ProxyFixture()
        let reply = try await f.get("/hello?x=1", headers: "User-Agent: t\r\n")
        #expect(reply.statuses == [200])
        #expect(reply.header("x-upstream") == "u1")
        #expect(reply.body == "u1 GET /hello?x=1")
        let span = try #require(await f.telemetry.spans.first { _ in true })
        #expect(span.kind == .server)
        #expect(span.service == "svc")
        #expect(span.instance == "svc.1")
        #expect(span.name == "GET /hello")
        #expect(span.attributes["http.response.status_code"] == "200")
        #expect(span.attributes["url.query"] == "x=1")
        #expect(span.attributes["user_agent.original"] == "t")
        #expect(span.parentSpanID == nil)
        let access = try #require(await f.telemetry.access.first { _ in true })
        #expect(access.status == 200)
        #expect(access.traceID == span.traceID)
        #expect(access.upstream == "u1")
        await f.stop()
    }

    @Test func keepAliveReusesOneUpstreamConnection() async throws {
        let f = try await ProxyFixture()
        let request = "GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
        let reply = try await RawHTTPClient.exchange(
            port: f.port, Array(repeating: Array(request.utf8), count: 50), until: RawHTTPClient.responses(50))
        #expect(reply.statuses.count == 50)
        #expect(reply.statuses.allSatisfy { $0 == 200 })
        // Pooled: one connection carries them all (two when a reused connection races its
        // server's close on a loaded machine; without pooling it would be fifty).
        #expect(f.upstreams[0].connectionCount <= 2)
        await f.stop()
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let f = try await ProxyFixture()
        let text = "GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /slow?ms=50 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\n\r\n"
        let reply = try await RawHTTPClient.exchange(port: f.port, text, until: RawHTTPClient.responses(3))
        #expect(reply.statuses == [200, 200, 200])
        let bodies = reply.text.components(separatedBy: "\r\n\r\n")
        try #require(bodies.count >= 4)
        #expect(bodies[1].hasPrefix("u1 GET /1"))
        #expect(bodies[2].hasPrefix("slow"))
        #expect(bodies[3].hasPrefix("u1 GET /3"))
        await f.stop()
    }

    @Test func chunkedBodiesPassBothWays() async throws {
        let f = try await ProxyFixture()
        let body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n"
        let reply = try await RawHTTPClient.exchange(
            port: f.port, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\(body)",
            until: RawHTTPClient.responses(1))
        #expect(reply.statuses == [200])
        #expect(reply.body == "hello world")
        let chunked = try await RawHTTPClient.exchange(port: f.port, "GET /chunked?n=3 HTTP/1.1\r\nHost: t\r\n\r\n") {
            String(decoding: $0, as: UTF8.self).hasSuffix("0\r\n\r\n")
        }
        #expect(chunked.header("transfer-encoding") == "chunked")
        #expect(chunked.body.contains("chunk-0\n"))
        #expect(chunked.body.contains("chunk-2\n"))
        #expect(chunked.body.hasSuffix("0\r\n\r\n"))
        await f.stop()
    }

    @Test func hopByHopFieldsAreRemovedAndForwardingFieldsAdded() async throws {
        let f = try await ProxyFixture()
        let reply = try await f.get("/headers", headers: """
            Connection: keep-alive, X-Secret\r
            X-Secret: 1\r
            Keep-Alive: timeout=5\r
            TE: trailers\r
            Proxy-Connection: keep-alive\r
            X-Forwarded-For: 10.0.0.1\r
            traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r
            tracestate: a=b\r
            X-Kept: yes\r

            """)
        let received = reply.body.lowercased()
        let names = received.split(separator: "\n").map { $0.split(separator: ":").first.map(String.init) ?? "" }
        for gone in ["x-secret", "keep-alive", "te", "proxy-connection", "connection"] {
            #expect(!names.contains(gone), "\(gone) reached the upstream: \(received)")
        }
        #expect(received.contains("x-kept: yes"))
        #expect(received.contains("x-forwarded-for: 10.0.0.1, 127.0.0.1"))
        #expect(received.contains("x-forwarded-proto: http"))
        #expect(received.contains("x-forwarded-host: test"))
        #expect(received.contains("tracestate: a=b"))
        let span = try #require(await f.telemetry.spans.first { _ in true })
        #expect(span.traceID == "0af7651916cd43dd8448eb211c80319c")
        #expect(span.parentSpanID == "b7ad6b7169203331")
        #expect(received.contains("traceparent: 00-0af7651916cd43dd8448eb211c80319c-\(span.spanID)-01"))
        await f.stop()
    }

    @Test func unreachableUpstreamIs502() async throws {
        let (closedPort, fd) = try refusingLoopbackPort()
        defer { close(fd) }
        let f = try await ProxyFixture(upstreams: [], extraEndpoints: [Endpoint(port: closedPort, name: "gone.1")])
        let reply = try await f.get("/x")
        #expect(reply.statuses == [502])
        #expect(reply.header("x-devmesh-error") == "upstream-refused")
        #expect(reply.body.contains("gone.1"))
        let access = try #require(await f.telemetry.access.first { _ in true })
        #expect(access.attempts == 3, "one try and two retries (nothing was sent)")
        await f.stop()
    }

    @Test func noEndpointsIs503() async throws {
        let f = try await ProxyFixture(upstreams: [])
        let reply = try await f.get("/x")
        #expect(reply.statuses == [503])
        #expect(reply.header("x-devmesh-error") == "no-healthy-upstream")
        await f.stop()
    }

    @Test func slowUpstreamIs504() async throws {
        let f = try await ProxyFixture { $0.timeouts.request = .milliseconds(200) }
        let reply = try await f.get("/slow?ms=2000")
        #expect(reply.statuses == [504])
        #expect(reply.header("x-devmesh-error") == "upstream-timeout")
        await f.stop()
    }

    @Test func resetBeforeAnswerIsRetriedOnAnotherReplica() async throws {
        let resetting = RawUpstream { bytes in bytes.isEmpty ? .wait : .close }
        let resetPort = try await resetting.start()
        let f = try await ProxyFixture(upstreams: ["good"], balancer: .roundRobin,
                                       extraEndpoints: [Endpoint(port: resetPort, name: "bad")])
        for _ in 0..<6 {
            let reply = try await f.get("/x")
            #expect(reply.statuses == [200])
            #expect(reply.header("x-upstream") == "good")
        }
        let retried = f.telemetry.access.items.filter { $0.attempts == 2 }
        #expect(!retried.isEmpty, "some requests went to the resetting replica first and were retried")
        await resetting.stop()
        await f.stop()
    }

    @Test func nonIdempotentRequestIsNotRetried() async throws {
        let resetting = RawUpstream { bytes in bytes.isEmpty ? .wait : .close }
        let resetPort = try await resetting.start()
        let f = try await ProxyFixture(upstreams: [], extraEndpoints: [Endpoint(port: resetPort, name: "bad")])
        let reply = try await RawHTTPClient.exchange(
            port: f.port, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi", until: RawHTTPClient.responses(1))
        #expect(reply.statuses == [502])
        #expect(reply.header("x-devmesh-error") == "upstream-reset")
        #expect(f.telemetry.access.items.first?.attempts == 1)
        await resetting.stop()
        await f.stop()
    }

    @Test func roundRobinSpreadsEvenly() async throws {
        let f = try await ProxyFixture(upstreams: ["a", "b", "c"], balancer: .roundRobin)
        for _ in 0..<60 {
            _ = try await f.get("/x")
        }
        let counts = f.upstreams.map { $0.requests.items.count }
        #expect(counts.reduce(0, +) == 60)
        // Each event loop keeps its own turn, so the split is even per loop, nearly even overall.
        #expect(counts.allSatisfy { $0 >= 10 }, "uneven spread: \(counts)")
        await f.stop()
    }

    @Test func p2cUsesEveryReplicaUnderConcurrentLoad() async throws {
        let f = try await ProxyFixture(upstreams: ["a", "b", "c"], balancer: .p2cEWMA)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    for _ in 0..<10 { _ = try await f.get("/slow?ms=5") }
                }
            }
            try await group.waitForAll()
        }
        let counts = f.upstreams.map { $0.requests.items.count }
        #expect(counts.reduce(0, +) == 60)
        #expect(counts.allSatisfy { $0 > 0 }, "a replica got nothing: \(counts)")
        await f.stop()
    }

    @Test func failingReplicaIsEjected() async throws {
        let failing = RawUpstream { bytes in
            String(decoding: bytes, as: UTF8.self).contains("\r\n\r\n")
                ? .reply(Array("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".utf8)) : .wait
        }
        let failPort = try await failing.start()
        // A long ejection: on a slow machine the 40 requests may take longer than the default 5 s,
        // and re-admission (tested in OutlierDetectorTests on a synthetic clock) is not the point here.
        let f = try await ProxyFixture(upstreams: ["good"], balancer: .roundRobin,
                                       extraEndpoints: [Endpoint(port: failPort, name: "failing")]) { route in
            route.ejection.baseEjection = .seconds(600)
        }
        var statuses: [Int] = []
        for _ in 0..<40 { statuses += try await f.get("/x").statuses }
        let fails = statuses.filter { $0 == 500 }.count
        #expect(fails == 5, "ejected after 5 consecutive 5xx, then avoided: \(fails) failures")
        #expect(statuses.suffix(20).allSatisfy { $0 == 200 })
        await failing.stop()
        await f.stop()
    }

    @Test func upgradedConnectionsBecomeATunnel() async throws {
        let ws = RawUpstream { bytes in
            String(decoding: bytes, as: UTF8.self).contains("\r\n\r\n")
                ? .replyThenEcho(Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".utf8))
                : .wait
        }
        let wsPort = try await ws.start()
        let f = try await ProxyFixture(upstreams: [], extraEndpoints: [Endpoint(port: wsPort, name: "ws")])
        let head = "GET /chat HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n"
        let reply = try await RawHTTPClient.exchange(port: f.port, [Array(head.utf8), Array("frame-bytes".utf8)]) {
            String(decoding: $0, as: UTF8.self).hasSuffix("frame-bytes")
        }
        #expect(reply.statuses == [101])
        #expect(reply.text.contains("Upgrade: websocket"))
        #expect(reply.text.hasSuffix("\r\n\r\nframe-bytes"))
        await ws.stop()
        await f.stop()
    }

    @Test func expectContinueIsForwarded() async throws {
        let f = try await ProxyFixture()
        let head = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        let first = try await RawHTTPClient.exchange(port: f.port, [Array(head.utf8)]) {
            String(decoding: $0, as: UTF8.self).contains("100 Continue\r\n\r\n")
        }
        #expect(first.statuses == [100])
        let whole = try await RawHTTPClient.exchange(port: f.port, [Array(head.utf8), Array("ping".utf8)]) {
            String(decoding: $0, as: UTF8.self).hasSuffix("ping")
        }
        #expect(whole.statuses == [100, 200])
        await f.stop()
    }
}


/// The smuggling shapes of RFC 9112 end at the sidecar: the right status, the connection closed,
/// and nothing at all reaches the upstream.
@Suite(.timeLimit(.minutes(2))) struct ProxyHardeningTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var request: String
        var status: Int
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "CL + TE", request: "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        Case(name: "duplicate CL", request: "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", status: 400),
        Case(name: "CL list", request: "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2, 2\r\n\r\nab", status: 400),
        Case(name: "CL with sign", request: "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: +2\r\n\r\nab", status: 400),
        Case(name: "CL hex", request: "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0x2\r\n\r\nab", status: 400),
        Case(name: "unknown coding", request: "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: foo\r\n\r\n", status: 501),
        Case(name: "chunked not final", request: "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", status: 400),
        Case(name: "TE in HTTP/1.0", request: "POST /x HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        Case(name: "obs-fold", request: "GET /x HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  folded\r\n\r\n", status: 400),
        Case(name: "bare CR", request: "GET /x HTTP/1.1\r\nHost: t\r\nX-A: 1\r2\r\n\r\n", status: 400),
        Case(name: "bare LF", request: "GET /x HTTP/1.1\nHost: t\n\n", status: 400),
        Case(name: "NUL in value", request: "GET /x HTTP/1.1\r\nHost: t\r\nX-A: a\u{0}b\r\n\r\n", status: 400),
        Case(name: "space before colon", request: "GET /x HTTP/1.1\r\nHost : t\r\n\r\n", status: 400),
        Case(name: "missing Host", request: "GET /x HTTP/1.1\r\nX-A: 1\r\n\r\n", status: 400),
        Case(name: "two Hosts", request: "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400),
        Case(name: "chunk size overflow", request: "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", status: 400),
        Case(name: "bad chunk terminator", request: "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n", status: 400),
        Case(name: "request line over 8 KiB", request: "GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: t\r\n\r\n", status: 414),
        Case(name: "headers over 60 KiB", request: "GET /x HTTP/1.1\r\nHost: t\r\n" + String(repeating: "X-Pad: \(String(repeating: "p", count: 1000))\r\n", count: 62) + "\r\n", status: 431),
        Case(name: "101 fields", request: "GET /x HTTP/1.1\r\nHost: t\r\n" + (0..<101).map { "X-\($0): v\r\n" }.joined() + "\r\n", status: 431),
        Case(name: "HTTP/2.0 version", request: "GET /x HTTP/2.0\r\nHost: t\r\n\r\n", status: 505),
        Case(name: "odd Expect", request: "GET /x HTTP/1.1\r\nHost: t\r\nExpect: coffee\r\n\r\n", status: 417),
    ]

    @Test(arguments: cases)
    func refusedAtTheSidecar(_ c: Case) async throws {
        let f = try await ProxyFixture()
        let reply = try await RawHTTPClient.exchange(port: f.port, c.request)
        #expect(reply.statuses == [c.status], "\(c.name): \(reply.text.prefix(200))")
        #expect(reply.closedByServer, "the connection is closed after a refused request")
        #expect(reply.header("x-devmesh-error") == "bad-request")
        // Other suites run in parallel and their health probers may still knock on a port this
        // fixture now owns; only what this test sent counts.
        let reached = f.upstreams[0].requests.items.filter { !$0.headers.contains { $0 == ("User-Agent", "devmesh-health") } }
        #expect(reached.isEmpty, "\(c.name) reached the upstream")
        await f.stop()
    }

    @Test func slowHeadsAreCutOffWith408() async throws {
        let f = try await ProxyFixture { $0.timeouts.requestHead = .milliseconds(300) }
        let reply = try await RawHTTPClient.exchange(port: f.port, [Array("GET /x HTTP/1.1\r\nHo".utf8)])
        #expect(reply.statuses == [408])
        #expect(reply.closedByServer)
        #expect(f.upstreams[0].requests.items.isEmpty)
        await f.stop()
    }
}

@Suite(.serialized, .timeLimit(.minutes(3))) struct ProxyStreamingTests {
    static let megabytes = 256

    @Test func largeUploadStreamsInBoundedMemory() async throws {
        let f = try await ProxyFixture()
        let chunk = [UInt8](repeating: 0x61, count: 1 << 20)
        let total = Self.megabytes << 20
        let before = residentMemory()
        let reply = try await RawHTTPClient.upload(
            port: f.port, head: "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: \(total)\r\n\r\n", chunk: chunk, count: Self.megabytes)
        let grown = residentMemory() - before
        #expect(reply.statuses == [200])
        #expect(reply.body == String(total))
        #expect(grown < 96 << 20, "grew by \(grown >> 20) MiB for a \(Self.megabytes) MiB upload")
        await f.stop()
    }

    @Test func largeDownloadStreamsInBoundedMemory() async throws {
        let f = try await ProxyFixture()
        let total = Self.megabytes << 20
        let before = residentMemory()
        let received = try await RawHTTPClient.download(
            port: f.port, request: "GET /big?bytes=\(total) HTTP/1.1\r\nHost: t\r\n\r\n", bytes: total)
        let grown = residentMemory() - before
        #expect(received >= total)
        #expect(grown < 96 << 20, "grew by \(grown >> 20) MiB for a \(Self.megabytes) MiB download")
        await f.stop()
    }
}

@Suite(.timeLimit(.minutes(1))) struct ProxyCrashTests {
    @Test func anUpstreamDyingMidResponseOnlyEndsThatResponse() async throws {
        // Promises 100 bytes, sends 5, and dies.
        let dying = RawUpstream { bytes in
            String(decoding: bytes, as: UTF8.self).contains("\r\n\r\n")
                ? .replyAndClose(Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello".utf8)) : .wait
        }
        let port = try await dying.start()
        let f = try await ProxyFixture(upstreams: ["good"], extraEndpoints: [])
        let broken = ProxyFixture.Extra(port: port)
        let listener = try await broken.listener(telemetry: f.telemetry)
        let reply = try await RawHTTPClient.exchange(port: listener.port, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(reply.statuses == [200])
        #expect(reply.closedByServer, "the client learns of the broken response by the close")
        #expect(reply.body == "hello")
        let access = try #require(await f.telemetry.access.first { $0.error == "upstream-reset" })
        #expect(access.status == 200)
        // The sidecar keeps serving.
        let again = try await RawHTTPClient.exchange(port: listener.port, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(again.statuses == [200])
        #expect(try await f.get("/ok").statuses == [200])
        await listener.listener.stop()
        await dying.stop()
        await f.stop()
    }
}

/// `egress_proxy: true`: an HTTP_PROXY-style listener that reaches services by name.
@Suite(.timeLimit(.minutes(1))) struct ForwardProxyTests {
    @Test func requestsNameTheirUpstreamByHost() async throws {
        let users = TestUpstream(name: "users")
        let usersPort = try await users.start()
        let f = try await ProxyFixture(upstreams: [], role: .egress) { route in
            route.forward = ForwardTargets(services: ["users": EndpointSource([Endpoint(port: usersPort, name: "users.1")])])
        }
        // What a client configured with HTTP_PROXY sends: absolute-form.
        let reply = try await RawHTTPClient.exchange(
            port: f.port, "GET http://users/profile?id=7 HTTP/1.1\r\nHost: users\r\n\r\n", until: RawHTTPClient.responses(1))
        #expect(reply.statuses == [200])
        #expect(reply.body == "users GET /profile?id=7", "forwarded in origin-form")
        let span = try #require(await f.telemetry.spans.first { _ in true })
        #expect(span.attributes["peer.service"] == "users")
        #expect(span.kind == .client)

        let unknown = try await RawHTTPClient.exchange(port: f.port, "GET http://nobody/x HTTP/1.1\r\nHost: nobody\r\n\r\n")
        #expect(unknown.statuses == [403])
        #expect(unknown.header("x-devmesh-error") == "undeclared-external")
        #expect(unknown.body.contains("users"))

        let connect = try await RawHTTPClient.exchange(port: f.port, "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
        #expect(connect.statuses == [403])
        #expect(connect.header("x-devmesh-error") == "connect-denied")
        #expect(users.requests.items.count == 1)
        await users.stop()
        await f.stop()
    }
}

/// `protocol: tcp`: bytes relayed both ways, one span per connection.
@Suite(.timeLimit(.minutes(1))) struct TCPRelayTests {
    @Test func bytesGoBothWaysAndTheConnectionIsTraced() async throws {
        let echo = RawUpstream { _ in .replyThenEcho([]) }
        let echoPort = try await echo.start()
        let f = try await ProxyFixture(upstreams: [], extraEndpoints: [Endpoint(port: echoPort, name: "db.1")]) {
            $0.transport = .tcp
        }
        let reply = try await RawHTTPClient.exchange(port: f.port, [Array("ping\n".utf8), Array("not http at all\n".utf8)]) {
            String(decoding: $0, as: UTF8.self).hasSuffix("not http at all\n")
        }
        #expect(reply.text == "ping\nnot http at all\n")
        let span = try #require(await f.telemetry.spans.first { _ in true })
        #expect(span.name == "TCP /")
        #expect(span.attributes["devmesh.upstream"] == "db.1")
        #expect(span.attributes["http.request.body.size"] == "21")
        await echo.stop()
        await f.stop()
    }

    @Test func noEndpointClosesTheConnection() async throws {
        let f = try await ProxyFixture(upstreams: []) { $0.transport = .tcp }
        // Nothing to relay to: the sidecar closes at once (so the test sends nothing, to not race it).
        let reply = try await RawHTTPClient.exchange(port: f.port, [[UInt8]]())
        #expect(reply.closedByServer)
        #expect(reply.bytes.isEmpty)
        let access = try #require(await f.telemetry.access.first { _ in true })
        #expect(access.error == "no-healthy-upstream")
        await f.stop()
    }
}
