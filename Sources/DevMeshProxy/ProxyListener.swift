import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A listening socket whose connections are proxied by `route`. Loopback by default.
public final class ProxyListener: Sendable {
    public let route: ProxyRoute
    public let host: String
    /// 0 picks a free port; `boundPort` tells which.
    public let requestedPort: Int
    /// Connections beyond this are closed at once.
    public let maxConnections: Int
    let group: any EventLoopGroup
    private let perLoop: PerLoop<ListenerLoopState>
    private let state = NIOLockedValueBox<(server: (any Channel)?, children: [ObjectIdentifier: any Channel])>((nil, [:]))

    public init(route: ProxyRoute, host: String = "127.0.0.1", port: Int, group: any EventLoopGroup, maxConnections: Int = 10_000) {
        self.route = route
        self.host = host
        requestedPort = port
        self.group = group
        self.maxConnections = maxConnections
        let outliers = OutlierDetector()
        perLoop = PerLoop(group: group) { _ in ListenerLoopState(route: route, outliers: outliers) }
    }

    public var boundPort: Int? {
        state.withLockedValue { $0.server?.localAddress?.port }
    }

    public var openConnections: Int {
        state.withLockedValue { $0.children.count }
    }

    /// Binds and starts accepting; returns the port.
    @discardableResult
    public func start() async throws -> Int {
        let route = self.route
        let perLoop = self.perLoop
        let state = self.state
        let maxConnections = self.maxConnections
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                let admitted = state.withLockedValue { s -> Bool in
                    guard s.children.count < maxConnections else { return false }
                    s.children[id] = channel
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in _ = state.withLockedValue { $0.children.removeValue(forKey: id) } }
                return channel.eventLoop.makeCompletedFuture {
                    let loopState = perLoop.value(on: channel.eventLoop)
                    switch route.transport {
                    case .http:
                        try channel.pipeline.syncOperations.addHandler(ProxyServerHandler(route: route, loop: loopState))
                    case .tcp:
                        try channel.pipeline.syncOperations.addHandler(TCPRelayHandler(route: route, loop: loopState))
                    }
                }
            }
            .bind(host: host, port: requestedPort)
            .get()
        state.withLockedValue { $0.server = server }
        return server.localAddress?.port ?? requestedPort
    }

    /// Stops accepting and closes every connection.
    public func stop() async {
        let (server, children) = state.withLockedValue { s in (s.server, Array(s.children.values)) }
        try? await server?.close()
        for child in children { child.close(promise: nil) }
    }
}
