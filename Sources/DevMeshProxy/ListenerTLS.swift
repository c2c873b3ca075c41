import NIOCore
import NIOHTTP2
import NIOSSL

/// TLS in front of a listener.
public enum ListenerTLS: Sendable {
    /// The HTTPS edge: TLS (SNI-selected certificates), ALPN `h2` → HTTP/2, else HTTP/1.1.
    case edge(NIOSSLContext, HTTP2Limits)
    /// An inbound sidecar under mTLS. `requireTLS` false (`mtls: permissive`) also lets plaintext
    /// in from processes outside the mesh; the first byte tells which a connection speaks.
    case mesh(TLSContextProvider, requireTLS: Bool)
}

/// HTTP/2 limits at the edge, set explicitly rather than inherited (docs/gateway.md lists them).
public struct HTTP2Limits: Sendable, Equatable {
    public var maxConcurrentStreams = 100
    public var maxHeaderListSize = 64 * 1024
    public var initialWindowSize = 1 << 20
    public var maxFrameSize = 1 << 14
    /// CONTINUATION floods (CVE-2024-27316 class) and rapid reset (CVE-2023-44487): NIOHTTP2's
    /// protections stay on with these bounds.
    public var maxSequentialContinuationFrames = 5
    public var maxRecentlyResetStreams = 32

    public init() {}

    var settings: HTTP2Settings {
        [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: maxHeaderListSize),
            HTTP2Setting(parameter: .initialWindowSize, value: initialWindowSize),
            HTTP2Setting(parameter: .maxFrameSize, value: maxFrameSize),
        ]
    }
}

/// `mtls: permissive`: a connection whose first byte starts a TLS handshake (0x16) gets TLS;
/// anything else is plaintext from outside the mesh. Removes itself after the first read.
final class TLSSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let context: NIOSSLContext

    init(context: NIOSSLContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) == 0x16 {
            do {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: self.context), position: .after(self))
            } catch {
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
