import DevMeshCore
import NIOCore
import NIOPosix

/// Runs one health probe against an app's private port on 127.0.0.1.
public struct HealthProber: Sendable {
    public struct Result: Sendable, Equatable {
        public var ok: Bool
        /// Why it failed (or the status it got), for messages.
        public var detail: String
    }

    let group: any EventLoopGroup

    public init(group: any EventLoopGroup) {
        self.group = group
    }

    public func probe(_ probe: HealthCheck.Probe, port: Int, timeout: Duration) async -> Result {
        let timeoutNanos = Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let loop = group.next()
        let promise = loop.makePromise(of: Result.self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(timeoutNanos))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if case .http(let path) = probe {
                        try channel.pipeline.syncOperations.addHandler(StatusLineHandler(path: path, port: port, promise: promise))
                    }
                }
            }
        let deadline = loop.scheduleTask(in: .nanoseconds(timeoutNanos)) {
            promise.succeed(Result(ok: false, detail: "no answer within \(DurationParser.format(timeout))"))
        }
        bootstrap.connect(host: "127.0.0.1", port: port).whenComplete { result in
            switch result {
            case .success(let channel):
                if case .tcp = probe {
                    promise.succeed(Result(ok: true, detail: "port \(port) accepts connections"))
                }
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            case .failure(let error):
                promise.succeed(Result(ok: false, detail: Self.describe(error, port: port)))
            }
        }
        let result = try? await promise.futureResult.get()
        deadline.cancel()
        return result ?? Result(ok: false, detail: "probe failed")
    }

    static func describe(_ error: any Error, port: Int) -> String {
        if let io = error as? IOError, io.errnoCode == 111 { return "connection refused on port \(port)" }
        if error is ChannelError { return "cannot connect to port \(port): \(error)" }
        let text = "\(error)"
        if text.contains("refused") || text.contains("ECONNREFUSED") { return "connection refused on port \(port)" }
        return "cannot connect to port \(port): \(text)"
    }

    /// Sends `GET path` and reads just the status line: 2xx and 3xx are healthy.
    final class StatusLineHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let path: String
        let port: Int
        let promise: EventLoopPromise<Result>
        var received: [UInt8] = []

        init(path: String, port: Int, promise: EventLoopPromise<Result>) {
            self.path = path
            self.port = port
            self.promise = promise
        }

        func channelActive(context: ChannelHandlerContext) {
            let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: devmesh-health\r\nConnection: close\r\n\r\n"
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            if let bytes = buffer.readBytes(length: min(buffer.readableBytes, 512 - received.count)) {
                received += bytes
            }
            // The status line ends at LF (a CR before it is dropped): lenient servers send a bare LF.
            if let end = received.firstIndex(of: UInt8(ascii: "\n")) ?? (received.count >= 512 ? received.count : nil) {
                var line = received[..<end]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                finish(line: String(decoding: line, as: UTF8.self))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.succeed(Result(ok: false, detail: received.isEmpty ? "connection closed without an answer" : "incomplete answer"))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.succeed(Result(ok: false, detail: "\(error)"))
            context.close(promise: nil)
        }

        private func finish(line: String) {
            let parts = line.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else {
                promise.succeed(Result(ok: false, detail: "not an HTTP answer: \(line.prefix(60))"))
                return
            }
            let ok = (200..<400).contains(code)
            promise.succeed(Result(ok: ok, detail: "GET \(path) answered \(code)"))
        }
    }
}
