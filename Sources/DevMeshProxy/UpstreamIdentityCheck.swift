import DevMeshCore
import DevMeshTLS
import NIOCore
import NIOSSL
import NIOTLS

/// Resolves `ready` when a connection may carry bytes: at once for plaintext; for mTLS after the
/// handshake, and only if the upstream proved the expected SPIFFE identity (else it closes).
final class UpstreamIdentityCheck: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let expected: SPIFFEID?
    let ready: EventLoopPromise<Void>
    /// How long the TLS handshake may take (the connect timeout again): an upstream that accepts
    /// and never answers must not hold the request forever.
    let handshakeTimeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(expected: SPIFFEID?, eventLoop: any EventLoop, handshakeTimeout: TimeAmount = .seconds(2)) {
        self.expected = expected
        self.handshakeTimeout = handshakeTimeout
        ready = eventLoop.makePromise()
    }

    struct HandshakeTimeout: Error, CustomStringConvertible {
        var description: String { "the TLS handshake did not finish in time" }
    }

    func channelActive(context: ChannelHandlerContext) {
        if expected == nil {
            ready.succeed()
        } else {
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: handshakeTimeout) { [ready] in
                ready.fail(HandshakeTimeout())
                context.close(promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, let expected {
            let cert = (try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self))?.peerCertificate
            let actual = cert.flatMap(TLSConfigurations.peerIdentity)
            timer?.cancel()
            if actual == expected {
                ready.succeed()
            } else {
                ready.fail(UpstreamHandler.IdentityMismatch(expected: expected, actual: actual))
                context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        ready.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    /// A connection that never became active (connect failed) ends here without `channelInactive`.
    func handlerRemoved(context: ChannelHandlerContext) {
        ready.fail(ChannelError.ioOnClosedChannel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        ready.fail(error)
        context.fireErrorCaught(error)
    }
}
