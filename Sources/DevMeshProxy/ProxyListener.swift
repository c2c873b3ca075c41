import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS

/// A listening socket whose connections are proxied by `route`. Loopback by default.
public final class ProxyListener: Sendable {
    public let route: ProxyRoute
    public let host: String
    /// 0 picks a free port; `boundPort` tells which.
    public let requestedPort: Int
    /// Connections beyond this are closed at once.
    public let maxConnections: Int
    public let tls: ListenerTLS?
    /// A default port (not one the user chose): when another process takes it between planning
    /// and binding, listen on a free port instead of failing (`boundPort` tells which).
    public let fallbackToFreePort: Bool
    let group: any EventLoopGroup
    private let perLoop: PerLoop<ListenerLoopState>
    private let state = NIOLockedValueBox<(server: (any Channel)?, children: [ObjectIdentifier: any Channel])>((nil, [:]))

    public init(route: ProxyRoute, host: String = "127.0.0.1", port: Int, group: any EventLoopGroup, maxConnections: Int = 10_000,
                tls: ListenerTLS? = nil, fallbackToFreePort: Bool = false) {
        self.route = route
        self.tls = tls
        self.fallbackToFreePort = fallbackToFreePort
        self.host = host
        requestedPort = port
        self.group = group
        self.maxConnections = maxConnections
        let outliers = OutlierDetector(policy: route.ejection)
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
        let tls = self.tls
        let bootstrap = ServerBootstrap(group: group)
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
                if case .mesh(let provider, let requireTLS) = tls {
                    return provider(channel.eventLoop).flatMapThrowing { context in
                        let sync = channel.pipeline.syncOperations
                        if requireTLS {
                            try sync.addHandler(NIOSSLServerHandler(context: context))
                        } else {
                            try sync.addHandler(TLSSniffer(context: context))
                        }
                        try Self.addProxy(channel, route: route, perLoop: perLoop, waitsForClient: true)
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    if case .edge(let context, let limits) = tls {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(NIOSSLServerHandler(context: context))
                        try sync.addHandler(ApplicationProtocolNegotiationHandler { result, channel in
                            channel.eventLoop.makeCompletedFuture {
                                if case .negotiated("h2") = result {
                                    try Self.configureHTTP2(channel, route: route, perLoop: perLoop, limits: limits)
                                } else {
                                    try Self.addProxy(channel, route: route, perLoop: perLoop)
                                }
                            }
                        })
                    } else {
                        try Self.addProxy(channel, route: route, perLoop: perLoop)
                    }
                }
            }

        let server: any Channel
        do {
            server = try await bootstrap.bind(host: host, port: requestedPort).get()
        } catch let error as IOError where error.errnoCode == EADDRINUSE && fallbackToFreePort {
            server = try await bootstrap.bind(host: host, port: 0).get()
        }
        state.withLockedValue { $0.server = server }
        return server.localAddress?.port ?? requestedPort
    }

    static func addProxy(_ channel: any Channel, route: ProxyRoute, perLoop: PerLoop<ListenerLoopState>, waitsForClient: Bool = false) throws {
        let loopState = perLoop.value(on: channel.eventLoop)
        switch route.transport {
        case .http:
            try channel.pipeline.syncOperations.addHandler(ProxyServerHandler(route: route, loop: loopState))
        case .tcp:
            try channel.pipeline.syncOperations.addHandler(TCPRelayHandler(route: route, loop: loopState, waitsForClient: waitsForClient))
        }
    }

    /// HTTP/2 at the edge: each stream runs the same proxy core behind a bridge.
    static func configureHTTP2(_ channel: any Channel, route: ProxyRoute, perLoop: PerLoop<ListenerLoopState>, limits: HTTP2Limits) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = limits.settings
        connection.maximumSequentialContinuationFrames = limits.maxSequentialContinuationFrames
        connection.maximumRecentlyResetStreams = limits.maxRecentlyResetStreams
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = limits.initialWindowSize
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: stream
        ) { streamChannel in
            streamChannel.eventLoop.makeCompletedFuture {
                let sync = streamChannel.pipeline.syncOperations
                try sync.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try sync.addHandler(HTTP2StreamBridge(limits: route.limits))
                try sync.addHandler(ProxyServerHandler(route: route, loop: perLoop.value(on: streamChannel.eventLoop), isHTTP2Stream: true))
            }
        }
    }

    /// Stops accepting and closes every connection.
    public func stop() async {
        let (server, children) = state.withLockedValue { s in (s.server, Array(s.children.values)) }
        try? await server?.close()
        for child in children { child.close(promise: nil) }
    }
}
