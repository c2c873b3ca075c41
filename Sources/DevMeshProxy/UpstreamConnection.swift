import NIOCore

/// A keep-alive connection to one upstream endpoint. While an exchange uses it, its bytes go to
/// that exchange's client handler; while idle it sits in the pool.
final class UpstreamConnection {
    let channel: any Channel
    let endpoint: Endpoint
    /// The client connection using it now (nil while idle).
    weak var owner: ProxyServerHandler?
    /// Set when the connection must not be reused (the server said close, excess bytes, errors).
    var broken = false
    /// How many exchanges it has carried (a reused connection may have been closed by its server).
    var uses = 0
    weak var pool: UpstreamPool?

    init(channel: any Channel, endpoint: Endpoint) {
        self.channel = channel
        self.endpoint = endpoint
    }

    var isReusable: Bool { !broken && channel.isActive }

    func close() {
        broken = true
        channel.close(promise: nil)
    }
}

/// The pipeline end of an upstream connection: hands everything to the owning exchange.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    weak var connection: UpstreamConnection?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection else { return }
        let buffer = unwrapInboundIn(data)
        if let owner = connection.owner {
            owner.upstreamRead(connection, buffer)
        } else {
            // An idle upstream must not speak: whatever it says cannot belong to any request.
            connection.close()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection?.owner?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        guard let connection else { return }
        connection.owner?.upstreamWritabilityChanged(connection, writable: context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard let connection else { return }
        connection.broken = true
        connection.pool?.remove(connection)
        connection.owner?.upstreamClosed(connection)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection?.broken = true
        context.close(promise: nil)
    }
}
