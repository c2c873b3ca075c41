import DevMeshCore
import DevMeshTLS
import DevMeshTesting
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// How one side of a TLS connection ended its handshake.
enum HandshakeOutcome: Sendable {
    case completed(alpn: String?, peerIdentity: SPIFFEID?, peerCertificate: NIOSSLCertificate?)
    case failed(String)

    var succeeded: Bool {
        if case .completed = self { return true }
        return false
    }

    var alpn: String? {
        if case .completed(let alpn, _, _) = self { return alpn }
        return nil
    }

    var peerIdentity: SPIFFEID? {
        if case .completed(_, let id, _) = self { return id }
        return nil
    }

    var peerCertificate: NIOSSLCertificate? {
        if case .completed(_, _, let certificate) = self { return certificate }
        return nil
    }
}

/// Reports the first handshake result of its channel: completion (with what the peer
/// presented), an error, or the connection closing before the handshake completed.
final class HandshakeObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let sink: Observed<HandshakeOutcome>
    private var reported = false

    init(sink: Observed<HandshakeOutcome>) {
        self.sink = sink
    }

    private func report(_ outcome: HandshakeOutcome) {
        guard !reported else { return }
        reported = true
        sink.append(outcome)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let alpn)? = event as? TLSUserEvent {
            let pipeline = context.pipeline.syncOperations
            let certificate = (try? pipeline.nioSSL_peerCertificate()) ?? nil
            // Through the library helper, the way a sidecar would read it.
            let identity = (try? TLSConfigurations.peerIdentity(in: pipeline)) ?? nil
            report(.completed(alpn: alpn, peerIdentity: identity, peerCertificate: certificate))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        report(.failed("\(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        report(.failed("closed before the handshake completed"))
        context.fireChannelInactive()
    }
}

/// A TLS server on 127.0.0.1, port 0, that records each connection's handshake outcome.
final class TLSTestServer: Sendable {
    let outcomes = Observed<HandshakeOutcome>()
    private let channel: any Channel

    var port: Int { channel.localAddress?.port ?? 0 }

    init(context: NIOSSLContext) async throws {
        let outcomes = self.outcomes
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        NIOSSLServerHandler(context: context), HandshakeObserver(sink: outcomes))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    /// The outcome of the first connection (nil only if none arrives within the timeout).
    func firstOutcome() async -> HandshakeOutcome? {
        await outcomes.first(timeout: .seconds(20)) { _ in true }
    }

    func stop() async {
        try? await channel.close()
    }
}

/// A TLS client connection to 127.0.0.1:`port`, kept open until `close()`.
final class TLSTestClient: Sendable {
    let outcomes = Observed<HandshakeOutcome>()
    private let channel: any Channel

    init(port: Int, context: NIOSSLContext, serverHostname: String? = nil) async throws {
        let outcomes = self.outcomes
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        NIOSSLClientHandler(context: context, serverHostname: serverHostname),
                        HandshakeObserver(sink: outcomes))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
    }

    func outcome() async -> HandshakeOutcome? {
        await outcomes.first(timeout: .seconds(20)) { _ in true }
    }

    func close() async {
        try? await channel.close()
    }
}

/// Connects once and returns what the client and the server each saw. The client stays
/// connected until the server has reported, because with TLS 1.3 the client finishes its
/// handshake before the server has checked the client's certificate.
func handshake(
    server: TLSTestServer, client context: NIOSSLContext, serverHostname: String? = nil
) async throws -> (client: HandshakeOutcome?, server: HandshakeOutcome?) {
    let client = try await TLSTestClient(port: server.port, context: context, serverHostname: serverHostname)
    let clientOutcome = await client.outcome()
    let serverOutcome = await server.firstOutcome()
    await client.close()
    return (clientOutcome, serverOutcome)
}

/// Runs `body` with a server for `context`, and stops the server afterwards, also on errors.
func withTLSServer<T>(context: NIOSSLContext, _ body: (TLSTestServer) async throws -> T) async throws -> T {
    let server = try await TLSTestServer(context: context)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
