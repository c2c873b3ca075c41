import DevMeshCore
import NIOCore
import NIOPosix

/// Reads one of a child's output pipes on an event loop and hands over whole lines.
enum LogPipeReader {
    /// Takes ownership of `fd` (closed at EOF). `onLine` runs on the event loop, in order.
    static func attach(fd: Int32, group: any EventLoopGroup, onLine: @escaping @Sendable (String) -> Void) -> EventLoopFuture<any Channel> {
        NIOPipeBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LineHandler(onLine: onLine))
                }
            }
            .takingOwnershipOfDescriptor(input: fd)
    }

    final class LineHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        private var framer = LineFramer()
        private let onLine: @Sendable (String) -> Void

        init(onLine: @escaping @Sendable (String) -> Void) {
            self.onLine = onLine
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            buffer.withUnsafeReadableBytes { bytes in
                for line in framer.feed(bytes) { onLine(line) }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if let rest = framer.finish() { onLine(rest) }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
