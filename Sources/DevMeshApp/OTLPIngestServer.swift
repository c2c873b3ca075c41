import DevMeshCore
import DevMeshOTLP
import DevMeshStore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// OTLP/HTTP ingest on 127.0.0.1 (`/v1/traces`, `/v1/logs`; protobuf or JSON, optionally gzip).
/// A request is answered 200 only after its spans and logs committed (PRODUCT.md, "Durability");
/// a bad payload gets 400 and nothing of it is stored; a full store gets 503 (SDKs retry).
final class OTLPIngestServer: Sendable {
    let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    static func start(port: Int, fallbackToFreePort: Bool, store: TelemetryWriter, group: any EventLoopGroup,
                      limits: OTLPLimits = OTLPLimits()) async throws -> OTLPIngestServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(OTLPRequestHandler(store: store, limits: limits))
                }
            }
        let server: any Channel
        do {
            server = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        } catch let error as IOError where error.errnoCode == EADDRINUSE && fallbackToFreePort {
            server = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        }
        return OTLPIngestServer(port: server.localAddress?.port ?? port, channel: server)
    }

    func stop() async {
        try? await channel.close()
    }
}
