import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP/1.1 server on 127.0.0.1 (NIOHTTP1, not the code under test) whose answers tests
/// choose by path:
/// - `/echo` — the request body back (`Content-Length`)
/// - `/headers` — the received header fields, one `name: value` per line
/// - `/chunked?n=K` — K chunks of "chunk-i\n" (chunked transfer coding)
/// - `/big?bytes=N` — N bytes, streamed in 64 KiB pieces
/// - `/status/NNN` — that status, empty body
/// - `/slow?ms=N` — answers after N milliseconds
/// - `/close` — closes the connection without answering
/// - `/sink` — reads the whole body, answers its length
/// Every answer carries `x-upstream: <name>`; every request head is recorded.
public final class TestUpstream: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var uri: String
        public var headers: [(String, String)]
        public var bodyBytes: Int
    }

    public let name: String
    public let requests = Observed<Request>()
    private let state = NIOLockedValueBox<(channel: (any Channel)?, connections: Int)>((nil, 0))
    public let group: any EventLoopGroup

    public init(name: String = "upstream", group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.name = name
        self.group = group
    }

    public var port: Int { state.withLockedValue { $0.channel?.localAddress?.port ?? 0 } }
    /// Connections accepted so far (pooling shows as few connections for many requests).
    public var connectionCount: Int { state.withLockedValue { $0.connections } }

    @discardableResult
    public func start(port: Int = 0) async throws -> Int {
        let name = self.name
        let requests = self.requests
        let state = self.state
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                state.withLockedValue { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true)
                    try channel.pipeline.syncOperations.addHandler(Handler(name: name, requests: requests))
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        state.withLockedValue { $0.channel = channel }
        return channel.localAddress!.port!
    }

    public func stop() async {
        let channel = state.withLockedValue { $0.channel }
        try? await channel?.close()
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let name: String
        let requests: Observed<Request>
        var head: HTTPRequestHead?
        var body = ByteBuffer()
        /// `/sink` counts its body without keeping it (for streaming tests).
        var counted = 0

        init(name: String, requests: Observed<Request>) {
            self.name = name
            self.requests = requests
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body.clear()
                counted = 0
                if h.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                    context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: .continue))), promise: nil)
                }
            case .body(var b):
                if head?.uri.hasPrefix("/sink") == true {
                    counted += b.readableBytes
                } else {
                    body.writeBuffer(&b)
                }
            case .end:
                guard let head else { return }
                requests.append(Request(method: head.method.rawValue, uri: head.uri,
                                        headers: head.headers.map { ($0.name, $0.value) }, bodyBytes: body.readableBytes + counted))
                respond(context: context, head: head)
            }
        }

        private func query(_ uri: String, _ key: String) -> Int? {
            guard let q = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
            for pair in q.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == key { return Int(kv[1]) }
            }
            return nil
        }

        private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
            let path = String(head.uri.prefix { $0 != "?" })
            var headers = HTTPHeaders([("x-upstream", name)])
            let keepAlive = head.isKeepAlive
            func send(_ status: HTTPResponseStatus, _ text: ByteBuffer) {
                headers.add(name: "content-length", value: String(text.readableBytes))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(text))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                    if !keepAlive { context.close(promise: nil) }
                }
            }
            switch path {
            case "/echo":
                send(.ok, body)
            case "/sink":
                send(.ok, ByteBuffer(string: String(counted)))
            case "/headers":
                send(.ok, ByteBuffer(string: head.headers.map { "\($0.name): \($0.value)\n" }.joined()))
            case "/chunked":
                let n = query(head.uri, "n") ?? 3
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
                for i in 0..<n { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "chunk-\(i)\n")))), promise: nil) }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case "/big":
                let total = query(head.uri, "bytes") ?? 1_000_000
                headers.add(name: "content-length", value: String(total))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
                let piece = ByteBuffer(repeating: UInt8(ascii: "x"), count: 65536)
                var sent = 0
                while sent < total {
                    let n = min(65536, total - sent)
                    context.write(wrapOutboundOut(.body(.byteBuffer(piece.getSlice(at: 0, length: n)!))), promise: nil)
                    sent += n
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case "/close":
                context.close(promise: nil)
            case "/slow":
                let ms = query(head.uri, "ms") ?? 1000
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(ms))) {
                    send(.ok, ByteBuffer(string: "slow"))
                }
            default:
                if path.hasPrefix("/status/"), let code = Int(path.dropFirst(8)) {
                    send(HTTPResponseStatus(statusCode: code), ByteBuffer())
                } else {
                    send(.ok, ByteBuffer(string: "\(name) \(head.method.rawValue) \(head.uri)"))
                }
            }
        }
    }
}
