import DevMeshCore
import DevMeshProxy
import DevMeshTesting
import NIOPosix

/// Upstreams plus one proxy listener in front of them, all on 127.0.0.1 port 0.
struct ProxyFixture {
    let upstreams: [TestUpstream]
    let telemetry = RecordingTelemetry()
    let listener: ProxyListener
    let port: Int

    init(upstreams names: [String] = ["u1"], role: ProxyRoute.Role = .inbound, balancer: BalancerKind = .p2cEWMA,
         extraEndpoints: [Endpoint] = [], configure: (inout ProxyRoute) -> Void = { _ in }) async throws {
        var ups: [TestUpstream] = []
        var endpoints: [Endpoint] = []
        for name in names {
            let u = TestUpstream(name: name)
            let port = try await u.start()
            ups.append(u)
            endpoints.append(Endpoint(port: port, name: name))
        }
        upstreams = ups
        var route = ProxyRoute(role: role, service: "svc", instance: role == .inbound ? "svc.1" : nil,
                               upstreamName: role == .egress ? "up" : nil,
                               endpoints: EndpointSource(endpoints + extraEndpoints), balancer: balancer, telemetry: telemetry)
        configure(&route)
        listener = ProxyListener(route: route, port: 0, group: MultiThreadedEventLoopGroup.singleton)
        port = try await listener.start()
    }

    /// A second listener in front of one raw endpoint, sharing the fixture's telemetry.
    struct Extra {
        var port: Int

        func listener(telemetry: RecordingTelemetry) async throws -> (listener: ProxyListener, port: Int) {
            let route = ProxyRoute(role: .inbound, service: "svc", instance: "svc.2",
                                   endpoints: EndpointSource([Endpoint(port: port, name: "raw")]), telemetry: telemetry)
            let listener = ProxyListener(route: route, port: 0, group: MultiThreadedEventLoopGroup.singleton)
            return (listener, try await listener.start())
        }
    }

    func stop() async {
        await listener.stop()
        for u in upstreams { await u.stop() }
    }

    func get(_ path: String, headers: String = "") async throws -> RawHTTPClient.Reply {
        try await RawHTTPClient.exchange(
            port: port, "GET \(path) HTTP/1.1\r\nHost: test\r\n\(headers)\r\n", until: RawHTTPClient.responses(1))
    }
}

extension RawHTTPClient.Reply {
    /// The body of the first response (after the head).
    var body: String {
        guard let r = text.range(of: "\r\n\r\n") else { return "" }
        return String(text[r.upperBound...])
    }

    func header(_ name: String) -> String? {
        for line in text.split(separator: "\r\n") {
            if line.isEmpty { break }
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}

import Foundation
