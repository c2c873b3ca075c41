import DevMeshCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP server on 127.0.0.1 whose behaviour is a closure over the bytes it received so far on a
/// connection: for upstreams no well-behaved HTTP server would be (resets, upgrades, garbage).
public final class RawUpstream: Sendable {
    public enum Action: Sendable {
        case wait
        case reply([UInt8])
        case replyAndClose([UInt8])
        case close
        /// From now on, echo every byte back (after an upgrade).
        case replyThenEcho([UInt8])
    }

    let behaviour: @Sendable ([UInt8]) -> Action
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    public let connections = Observed<Int>()

    public init(_ behaviour: @escaping @Sendable ([UInt8]) -> Action) {
        self.behaviour = behaviour
    }

    public var port: Int { channel.withLockedValue { $0?.localAddress?.port ?? 0 } }

    @discardableResult
    public func start() async throws -> Int {
        let behaviour = self.behaviour
        let connections = self.connections
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                connections.append(1)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(behaviour: behaviour))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        channel.withLockedValue { $0 = server }
        return server.localAddress!.port!
    }

    public func stop() async {
        try? await channel.withLockedValue { $0 }?.close()
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let behaviour: @Sendable ([UInt8]) -> Action
        var received: [UInt8] = []
        var echoing = false

        init(behaviour: @escaping @Sendable ([UInt8]) -> Action) {
            self.behaviour = behaviour
        }

        func channelActive(context: ChannelHandlerContext) {
            act(context)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            if echoing {
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
                return
            }
            received += buffer.readableBytesView
            act(context)
        }

        private func act(_ context: ChannelHandlerContext) {
            switch behaviour(received) {
            case .wait: break
            case .reply(let bytes):
                received = []
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
            case .replyAndClose(let bytes):
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes))).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            case .close:
                context.close(promise: nil)
            case .replyThenEcho(let bytes):
                echoing = true
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
            }
        }
    }
}

/// Records spans and access records, for tests.
public final class RecordingTelemetry: TelemetrySink, Sendable {
    public let spans = Observed<SpanRecord>()
    public let access = Observed<AccessLogRecord>()

    public init() {}

    public func record(span: SpanRecord) { spans.append(span) }
    public func record(access record: AccessLogRecord) { access.append(record) }
}
