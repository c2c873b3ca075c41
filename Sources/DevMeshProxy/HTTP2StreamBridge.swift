import DevMeshHTTP1
import NIOCore
import NIOHTTP1

/// Puts one HTTP/2 stream of the edge in front of the same proxy core as HTTP/1.1: the stream's
/// request (already mapped to HTTP/1 parts by NIOHTTP2's codec) is serialised into HTTP/1.1
/// bytes for `ProxyServerHandler`, and the HTTP/1.1 bytes it answers with are parsed back into
/// response parts (hop-by-hop fields dropped, chunked bodies de-chunked), so routing, balancing,
/// retries, telemetry and every later feature exist once.
final class HTTP2StreamBridge: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTPServerResponsePart

    private let limits: HTTP1Limits
    private let parser: HTTP1ResponseParser

    // Request side.
    private var pendingHead: HTTPRequestHead?
    private var chunkedRequest = false
    private var requestMethod = "GET"
    private var requestEnded = false
    /// Set once this bridge answered the stream itself: nothing more reaches the core.
    private var refused = false

    // Response side.
    private enum ResponseState {
        case head(ByteBuffer)
        case length(remaining: UInt64)
        case chunked(ChunkedBodyScanner)
        case untilClose
        case done
    }
    private var response: ResponseState = .head(ByteBuffer())

    init(limits: HTTP1Limits) {
        self.limits = limits
        parser = HTTP1ResponseParser(limits: limits)
    }

    // MARK: - Request: HTTP/2 parts → HTTP/1.1 bytes

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .end = part { requestEnded = true }
        if refused { return }
        switch part {
        case .head(let head):
            requestMethod = head.method.rawValue
            if head.headers.contains(name: "expect") {
                // The client waits for a 100 before sending its body: forward the head now.
                chunkedRequest = !head.headers.contains(name: "content-length")
                emitHead(head, context: context, hasBody: true)
            } else {
                // Held back one part: whether a body follows decides its framing.
                pendingHead = head
            }
        case .body(let body):
            if let head = pendingHead {
                pendingHead = nil
                chunkedRequest = !head.headers.contains(name: "content-length")
                emitHead(head, context: context, hasBody: true)
                if refused { return }
            }
            guard body.readableBytes > 0 else { return }
            if chunkedRequest {
                var out = context.channel.allocator.buffer(capacity: body.readableBytes + 16)
                out.writeString(String(body.readableBytes, radix: 16))
                out.writeStaticString("\r\n")
                var b = body
                out.writeBuffer(&b)
                out.writeStaticString("\r\n")
                context.fireChannelRead(wrapInboundOut(out))
            } else {
                context.fireChannelRead(wrapInboundOut(body))
            }
        case .end:
            if let head = pendingHead {
                pendingHead = nil
                emitHead(head, context: context, hasBody: false)
            } else if chunkedRequest {
                var out = context.channel.allocator.buffer(capacity: 5)
                out.writeStaticString("0\r\n\r\n")
                context.fireChannelRead(wrapInboundOut(out))
            }
        }
    }

    private func emitHead(_ head: HTTPRequestHead, context: ChannelHandlerContext, hasBody: Bool) {
        var out = context.channel.allocator.buffer(capacity: 512)
        out.writeString(head.method.rawValue)
        out.writeStaticString(" ")
        out.writeString(head.uri)
        out.writeStaticString(" HTTP/1.1\r\n")
        // HTTP/2 may split `cookie` into several fields; HTTP/1.1 wants one (RFC 9113 §8.2.3).
        let cookies = head.headers["cookie"]
        if !cookies.isEmpty {
            let joined = cookies.joined(separator: "; ")
            guard Self.isSafe(joined) else {
                refuse(context: context)
                return
            }
            out.writeStaticString("cookie: ")
            out.writeString(joined)
            out.writeStaticString("\r\n")
        }
        for (name, value) in head.headers {
            // HTTP/2 forbids these (NIOHTTP2 validates); a value must never split the HTTP/1.1 head.
            if Self.connectionSpecific(name) || name.lowercased() == "cookie" { continue }
            guard Self.isSafe(name), Self.isSafe(value) else {
                refuse(context: context)
                return
            }
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if hasBody, chunkedRequest { out.writeStaticString("transfer-encoding: chunked\r\n") }
        out.writeStaticString("\r\n")
        context.fireChannelRead(wrapInboundOut(out))
    }

    private func refuse(context: ChannelHandlerContext) {
        refused = true
        pendingHead = nil
        var headers = HTTPHeaders()
        headers.add(name: "x-devmesh-error", value: "bad-request")
        headers.add(name: "content-length", value: "0")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http2, status: .badRequest, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        response = .done
        context.close(promise: nil)
    }

    static func connectionSpecific(_ name: String) -> Bool {
        switch name.lowercased() {
        case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te": return true
        default: return false
        }
    }

    static func isSafe(_ s: String) -> Bool {
        !s.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    // MARK: - Response: HTTP/1.1 bytes → HTTP/2 parts

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        while bytes.readableBytes > 0 {
            switch response {
            case .head(var buffered):
                if buffered.readableBytes == 0 { buffered = bytes } else { buffered.writeBuffer(&bytes) }
                bytes.moveReaderIndex(forwardBy: bytes.readableBytes)
                let result = buffered.withUnsafeReadableBytes { parser.parse($0, requestMethod: requestMethod) }
                switch result {
                case .incomplete:
                    response = .head(buffered)
                case .invalid:
                    // The core only writes heads it parsed or made itself; a failure here is a bug.
                    response = .done
                    context.close(promise: nil)
                case .complete(let head):
                    let headBytes = buffered.readSlice(length: head.headLength)!
                    bytes = buffered
                    if head.isInterim {
                        // 100 Continue and 103 Early Hints are meaningful to an HTTP/2 client too.
                        if head.status == 100 || head.status == 103 {
                            context.write(wrapOutboundOut(.head(Self.responseHead(head, source: headBytes))), promise: nil)
                        }
                        response = .head(ByteBuffer())
                        continue
                    }
                    context.write(wrapOutboundOut(.head(Self.responseHead(head, source: headBytes))), promise: nil)
                    switch head.framing {
                    case .none:
                        context.write(wrapOutboundOut(.end(nil)), promise: nil)
                        response = .done
                    case .length(let n):
                        response = .length(remaining: n)
                        if n == 0 { finish(context) }
                    case .chunked:
                        response = .chunked(ChunkedBodyScanner(limits: limits))
                    case .untilClose:
                        response = .untilClose
                    }
                }
            case .length(let remaining):
                let n = Int(min(remaining, UInt64(bytes.readableBytes)))
                context.write(wrapOutboundOut(.body(.byteBuffer(bytes.readSlice(length: n)!))), promise: nil)
                response = .length(remaining: remaining - UInt64(n))
                if remaining == UInt64(n) { finish(context) }
            case .chunked(var scanner):
                var pieces: [Range<Int>] = []
                let consumed: Int
                do {
                    consumed = try bytes.withReadableBytes { raw throws(HTTP1Violation) in
                        try scanner.scan(raw) { pieces.append($0) }
                    }
                } catch {
                    response = .done
                    context.close(promise: nil)
                    promise?.fail(error)
                    return
                }
                for piece in pieces {
                    let slice = bytes.getSlice(at: bytes.readerIndex + piece.lowerBound, length: piece.count)!
                    context.write(wrapOutboundOut(.body(.byteBuffer(slice))), promise: nil)
                }
                bytes.moveReaderIndex(forwardBy: consumed)
                response = .chunked(scanner)
                if scanner.isDone { finish(context) }
            case .untilClose:
                context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
                bytes.moveReaderIndex(forwardBy: bytes.readableBytes)
            case .done:
                // Bytes after the response (a pipelined answer cannot happen on one stream).
                bytes.moveReaderIndex(forwardBy: bytes.readableBytes)
            }
        }
        promise?.succeed()
    }

    private func finish(_ context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        response = .done
    }

    /// The core closes its "connection" when an exchange ends without keep-alive. On a stream that
    /// must not reset what is still queued for the client (a reset discards DATA that waits for
    /// flow-control window): a finished response ends the stream cleanly and, once the request has
    /// ended too, the stream closes by itself. Only an unfinished response is reset.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if case .untilClose = response {
            // A body delimited by the upstream's close ends with the stream.
            response = .done
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        guard case .done = response else {
            context.close(mode: mode, promise: promise)
            return
        }
        context.flush()
        if requestEnded {
            promise?.succeed()
        } else {
            // The response is complete but the client is still sending: stop it (NO_ERROR-style).
            context.close(mode: mode, promise: promise)
        }
    }

    static func responseHead(_ head: HTTP1ResponseHead, source: ByteBuffer) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        for (i, field) in head.fields.enumerated() {
            let kind = head.fieldKinds[i]
            if kind.isHopByHop || kind == .transferEncoding { continue }
            if head.connectionOptions.contains(where: { field.name.caseInsensitiveEquals($0) }) { continue }
            headers.add(name: field.name.lowercased(), value: field.value)
        }
        return HTTPResponseHead(version: .http2, status: HTTPResponseStatus(statusCode: head.status), headers: headers)
    }
}
