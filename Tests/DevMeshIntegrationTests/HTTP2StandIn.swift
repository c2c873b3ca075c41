import DevMeshTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// A stand-in external that speaks HTTP/2 or HTTP/1.1, whichever the client picks by ALPN, with a
/// certificate from a CA of its own. Every answer says which protocol carried it; it counts
/// connections, so pooling (one HTTP/2 connection for many calls) shows.
final class HTTP2StandIn: Sendable {
    let port: Int
    private let channel: any Channel
    private let counts: NIOLockedValueBox<(connections: Int, requests: Int)>

    var connections: Int { counts.withLockedValue { $0.connections } }
    var requests: Int { counts.withLockedValue { $0.requests } }

    init(certificate: IssuedCertificate) async throws {
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: try certificate.nioChain().map { .certificate($0) },
                                                           privateKey: .privateKey(try certificate.nioKey()))
        tls.applicationProtocols = ["h2", "http/1.1"]
        let context = try NIOSSLContext(configuration: tls)
        let counts = NIOLockedValueBox((connections: 0, requests: 0))
        self.counts = counts
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counts.withLockedValue { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                }.flatMap {
                    channel.configureCommonHTTPServerPipeline { stream in
                        stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(Responder(counts: counts)) }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    func stop() async {
        try? await channel.close()
    }

    /// Answers `{"protocol": "2"|"1.1", "auth": …}` once a request has ended.
    final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let counts: NIOLockedValueBox<(connections: Int, requests: Int)>
        private let head = NIOLockedValueBox<HTTPRequestHead?>(nil)

        init(counts: NIOLockedValueBox<(connections: Int, requests: Int)>) { self.counts = counts }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): head.withLockedValue { $0 = h }
            case .body: break
            case .end:
                guard let request = head.withLockedValue({ $0 }) else { return }
                counts.withLockedValue { $0.requests += 1 }
                let auth = request.headers.first(name: "authorization") ?? ""
                let body = #"{"protocol": "\#(request.version.major == 2 ? "2" : "1.1")", "auth": "\#(auth)", "path": "\#(request.uri)"}"#
                var headers = HTTPHeaders([("content-type", "application/json"), ("content-length", String(body.utf8.count))])
                if request.version.major != 2 { headers.add(name: "connection", value: "keep-alive") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
