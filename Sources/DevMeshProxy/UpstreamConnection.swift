import DevMeshCore
import DevMeshTLS
import NIOCore
import NIOSSL
import NIOTLS

/// A keep-alive connection to one upstream endpoint. While an exchange uses it, its bytes go to
/// that exchange's client handler; while idle it sits in the pool.
final class UpstreamConnection {
    let channel: any Channel
    let endpoint: Endpoint
    /// The client connection using it now (nil while idle). Strong on purpose: a weak reference
    /// would give the handler a side table and slow every retain/release of it on the hot path;
    /// the cycle handler → exchange → connection → handler is broken whenever the exchange ends
    /// (`owner = nil` when pooled, `close()` otherwise).
    var owner: ProxyServerHandler?
    /// Set when the connection must not be reused (the server said close, excess bytes, errors).
    var broken = false
    /// How many exchanges it has carried (a reused connection may have been closed by its server).
    var uses = 0
    /// What broke it, when an error did (a TLS alert tells more than the close that follows).
    var failure: (any Error)?
    /// Reading paused because the client read slower than the upstream answered; must be
    /// resumed before the connection serves anyone else (else the next answer is never read).
    var readPaused = false
    /// The pool it returns to (lives as long as its listener; `closeAll` empties it).
    var pool: UpstreamPool?

    init(channel: any Channel, endpoint: Endpoint) {
        self.channel = channel
        self.endpoint = endpoint
    }

    var isReusable: Bool { !broken && channel.isActive }

    func close() {
        broken = true
        owner = nil
        channel.close(promise: nil)
    }
}

/// The pipeline end of an upstream connection: hands everything to the owning exchange.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    struct SetupFailed: Error, CustomStringConvertible {
        var description: String { "the connection could not be set up" }
    }

    struct IdentityMismatch: Error, CustomStringConvertible {
        var expected: SPIFFEID
        var actual: SPIFFEID?
        var description: String {
            "expected the identity \(expected.uri), the upstream presented \(actual?.uri ?? "a certificate without a SPIFFE identity")"
        }
    }


    /// Strong for the same reason as `owner`; released when the closed channel drops its handlers.
    var connection: UpstreamConnection?

    func handlerRemoved(context: ChannelHandlerContext) {
        connection = nil
    }

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
        connection?.failure = error
        connection?.broken = true
        context.close(promise: nil)
    }
}
