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

    /// Per call: the merged answer of up to 16 calls is built in memory.
    static let maxAnswer = 2 << 20

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

    /// Gathers the answer (the request said `Connection: close`): the head is parsed once, then
    /// a body of known length ends at its length; any other ends when the connection closes.
    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Answer>
        var bytes: [UInt8] = []
        var head: HTTP1ResponseHead?

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
            while head == nil {
                let parsed = bytes.withUnsafeBytes { HTTP1ResponseParser().parse($0, requestMethod: "GET") }
                switch parsed {
                case .incomplete: return
                case .invalid(let violation):
                    promise.fail(Failure.badAnswer(violation.detail))
                    context.close(promise: nil)
                    return
                case .complete(let h):
                    if h.isInterim { bytes.removeFirst(h.headLength); continue }
                    head = h
                    bytes.removeFirst(h.headLength)
                }
            }
            guard let head else { return }
            switch head.framing {
            case .none:
                finish(Answer(status: head.status, fields: head.fields, body: []), context)
            case .length(let n) where bytes.count >= Int(clamping: n):
                finish(Answer(status: head.status, fields: head.fields, body: Array(bytes.prefix(Int(clamping: n)))), context)
            default:
                break
            }
        }

        private func finish(_ answer: Answer, _ context: ChannelHandlerContext) {
            promise.succeed(answer)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            guard let head else {
                promise.fail(Failure.badAnswer(bytes.isEmpty ? "the connection closed without an answer" : "the head was cut short"))
                return
            }
            switch head.framing {
            case .chunked:
                // The answer ended with the connection; a chunked body must have ended first.
                guard bytes.count >= 5, bytes.suffix(5).elementsEqual("0\r\n\r\n".utf8) else {
                    promise.fail(Failure.badAnswer("the chunked body was cut short"))
                    return
                }
                promise.succeed(Answer(status: head.status, fields: head.fields, body: ChunkedDecoding.decode(bytes)))
            case .untilClose:
                promise.succeed(Answer(status: head.status, fields: head.fields, body: bytes))
            default:
                promise.fail(Failure.badAnswer("the body was cut short"))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(Failure.connect("\(error)"))
            context.close(promise: nil)
        }
    }
}
