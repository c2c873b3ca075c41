import DevMeshCore
import DevMeshHTTP1
import NIOCore

/// One request the gateway sends on its own behalf (a call of an aggregate route) over a new
/// connection — mTLS to the sidecar like any gateway hop — and the whole answer, bounded.
enum Subrequest {
    struct Answer {
        var status: Int
        var fields: [HTTPField]
        var body: [UInt8]
    }

    enum Failure: Error, CustomStringConvertible {
        case connect(String)
        case timedOut(Duration)
        case tooLarge(Int)
        case badAnswer(String)

        var description: String {
            switch self {
            case .connect(let why): "could not connect: \(why)"
            case .timedOut(let d): "no answer within \(DurationParser.format(d))"
            case .tooLarge(let n): "the answer is larger than \(n / 1024 / 1024) MiB"
            case .badAnswer(let why): "the answer is not valid HTTP: \(why)"
            }
        }
    }

    static let maxAnswer = 8 << 20

    static func send(_ request: ByteBuffer, to endpoint: Endpoint, tls: UpstreamTLS?, timeout: Duration, on loop: any EventLoop) -> EventLoopFuture<Answer> {
        let promise = loop.makePromise(of: Answer.self)
        let deadline = loop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) {
            promise.fail(Failure.timedOut(timeout))
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        UpstreamConnector.connect(to: endpoint, on: loop, timeout: .seconds(2), tls: tls) { Collector(promise: promise) }
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    channel.writeAndFlush(request, promise: nil)
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                case .failure(let error):
                    promise.fail(Failure.connect("\(error)"))
                }
            }
        return promise.futureResult
    }

    /// Gathers the answer (the request said `Connection: close`) and parses it once it is whole.
    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Answer>
        var bytes: [UInt8] = []

        init(promise: EventLoopPromise<Answer>) {
            self.promise = promise
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            guard bytes.count + buffer.readableBytes <= maxAnswer else {
                promise.fail(Failure.tooLarge(maxAnswer))
                context.close(promise: nil)
                return
            }
            bytes.append(contentsOf: buffer.readableBytesView)
            if let answer = parse(complete: false) {
                promise.succeed(answer)
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if let answer = parse(complete: true) {
                promise.succeed(answer)
            } else {
                promise.fail(Failure.badAnswer(bytes.isEmpty ? "the connection closed without an answer" : "it ended early"))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(Failure.connect("\(error)"))
            context.close(promise: nil)
        }

        /// The answer once its body is whole (`complete`: the connection ended, which ends a
        /// close-delimited body).
        func parse(complete: Bool) -> Answer? {
            let parsed = bytes.withUnsafeBytes { HTTP1ResponseParser().parse($0, requestMethod: "GET") }
            guard case .complete(let head) = parsed else { return nil }
            if head.isInterim { bytes.removeFirst(head.headLength); return parse(complete: complete) }
            let rest = Array(bytes[head.headLength...])
            switch head.framing {
            case .none: return Answer(status: head.status, fields: head.fields, body: [])
            case .length(let n):
                guard rest.count >= Int(clamping: n) else { return nil }
                return Answer(status: head.status, fields: head.fields, body: Array(rest.prefix(Int(clamping: n))))
            case .chunked:
                guard rest.count >= 5, rest.suffix(5) == Array("0\r\n\r\n".utf8) || complete else { return nil }
                return Answer(status: head.status, fields: head.fields, body: ChunkedDecoding.decode(rest))
            default:
                return complete ? Answer(status: head.status, fields: head.fields, body: rest) : nil
            }
        }
    }
}
