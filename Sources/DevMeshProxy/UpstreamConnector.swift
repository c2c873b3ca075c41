import NIOCore
import NIOPosix
import NIOSSL

/// How a sidecar opens a connection to an upstream endpoint, for HTTP exchanges and TCP relays
/// alike: TCP with the connect timeout, then for mTLS the TLS client handler and the identity
/// check, then the caller's own handler. The future succeeds once the connection may carry bytes
/// — for mTLS only after the upstream proved `tls.expected`, so nothing is ever written to an
/// upstream that is not who it should be.
enum UpstreamConnector {
    static func connect(to endpoint: Endpoint, on eventLoop: any EventLoop, timeout: TimeAmount, tls: UpstreamTLS?,
                        handler makeHandler: @escaping @Sendable () -> any ChannelHandler) -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                let context: EventLoopFuture<NIOSSLContext?> = tls.map { $0.context(channel.eventLoop).map { Optional($0) } }
                    ?? channel.eventLoop.makeSucceededFuture(nil)
                return context.flatMapThrowing { context in
                    let sync = channel.pipeline.syncOperations
                    if let context {
                        try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
                    try sync.addHandler(UpstreamIdentityCheck(expected: tls?.expected, eventLoop: channel.eventLoop,
                                                              handshakeTimeout: timeout))
                    try sync.addHandler(makeHandler())
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .flatMap { channel in
                guard let check = try? channel.pipeline.syncOperations.handler(type: UpstreamIdentityCheck.self) else {
                    return channel.close().flatMapThrowing { () throws -> any Channel in throw UpstreamHandler.SetupFailed() }
                }
                return check.ready.futureResult.map { channel }.flatMapError { error in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
    }
}
