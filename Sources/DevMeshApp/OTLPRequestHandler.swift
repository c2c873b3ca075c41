import DevMeshCore
import DevMeshOTLP
import DevMeshStore
import NIOCore
import NIOHTTP1

/// One OTLP request at a time per connection: the head is checked first (method, path, type,
/// encoding, declared length), the body collected up to the limit, then decoded off the event
/// loop and handed to the store; the answer waits for the commit.
final class OTLPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    enum Signal: String, Sendable {
        case traces
        case logs
    }

    enum Encoding: Sendable {
        case protobuf
        case json
    }

    private let store: TelemetryWriter
    private let limits: OTLPLimits
    private var signal: Signal?
    private var encoding = Encoding.protobuf
    private var gzip = false
    private var keepAlive = true
    private var body: [UInt8] = []
    private var refused = false

    init(store: TelemetryWriter, limits: OTLPLimits) {
        self.store = store
        self.limits = limits
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            body = []
            refused = false
            keepAlive = head.isKeepAlive
            let path = String(head.uri.prefix { $0 != "?" })
            guard let signal = path == "/v1/traces" ? Signal.traces : path == "/v1/logs" ? Signal.logs : nil else {
                return refuse(context, .notFound, "no such OTLP endpoint `\(path)`; use /v1/traces or /v1/logs (OTLP/HTTP)")
            }
            self.signal = signal
            guard head.method == .POST else {
                return refuse(context, .methodNotAllowed, "OTLP requests are POSTs")
            }
            let type = head.headers.first(name: "content-type")?.lowercased() ?? ""
            if type.hasPrefix("application/x-protobuf") || type.hasPrefix("application/protobuf") {
                encoding = .protobuf
            } else if type.hasPrefix("application/json") {
                encoding = .json
            } else {
                return refuse(context, .unsupportedMediaType, "Content-Type `\(type)` is not OTLP; send application/x-protobuf or application/json")
            }
            let contentEncoding = head.headers.first(name: "content-encoding")?.lowercased() ?? "identity"
            switch contentEncoding {
            case "gzip": gzip = true
            case "identity", "": gzip = false
            default:
                return refuse(context, .unsupportedMediaType, "Content-Encoding `\(contentEncoding)` is not supported; send gzip or none")
            }
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limits.maxBodyBytes {
                keepAlive = false
                return refuse(context, .payloadTooLarge, "the body has \(length) bytes; the limit is \(limits.maxBodyBytes) — send smaller batches")
            }
        case .body(var buffer):
            guard !refused else { return }
            guard body.count + buffer.readableBytes <= limits.maxBodyBytes else {
                keepAlive = false
                return refuse(context, .payloadTooLarge, "the body is over the limit of \(limits.maxBodyBytes) bytes — send smaller batches")
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard !refused, let signal else { return }
            let payload = body
            body = []
            let encoding = self.encoding
            let gzip = self.gzip
            let limits = self.limits
            let store = self.store
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            Self.process(payload, signal: signal, encoding: encoding, gzip: gzip, limits: limits, store: store) { outcome in
                eventLoop.execute {
                    bound.value.0.answer(bound.value.1, outcome)
                }
            }
        }
    }

    enum Outcome: Sendable {
        case stored
        case bad(String)
        case full
    }

    /// Decoding a large batch takes milliseconds: not on the event loop.
    static func process(_ payload: [UInt8], signal: Signal, encoding: Encoding, gzip: Bool, limits: OTLPLimits,
                        store: TelemetryWriter, then respond: @escaping @Sendable (Outcome) -> Void) {
        Task {
            respond(await ingest(payload, signal: signal, encoding: encoding, gzip: gzip, limits: limits, store: store))
        }
    }

    static func ingest(_ payload: [UInt8], signal: Signal, encoding: Encoding, gzip: Bool, limits: OTLPLimits,
                       store: TelemetryWriter) async -> Outcome {
        do {
            let bytes = gzip ? try GzipInflater.inflate(payload, limit: limits.maxDecompressedBytes) : payload
            switch (signal, encoding) {
            case (.traces, .protobuf):
                return await store.storeAcknowledged(spans: try OTLPProtobuf.spans(from: bytes, limits: limits), logs: []) ? .stored : .full
            case (.traces, .json):
                return await store.storeAcknowledged(spans: try OTLPJSON.spans(from: bytes, limits: limits), logs: []) ? .stored : .full
            case (.logs, .protobuf):
                return await store.storeAcknowledged(spans: [], logs: try OTLPProtobuf.logs(from: bytes, limits: limits)) ? .stored : .full
            case (.logs, .json):
                return await store.storeAcknowledged(spans: [], logs: try OTLPJSON.logs(from: bytes, limits: limits)) ? .stored : .full
            }
        } catch let error as OTLPPayloadError {
            return .bad(error.message)
        } catch {
            return .bad("\(error)")
        }
    }

    private func answer(_ context: ChannelHandlerContext, _ outcome: Outcome) {
        switch outcome {
        case .stored:
            // An empty Export*ServiceResponse: full success.
            respond(context, .ok, body: encoding == .json ? Array("{}".utf8) : [])
        case .bad(let message):
            respond(context, .badRequest, body: errorBody(code: 3, message: message))
        case .full:
            respond(context, .serviceUnavailable, body: errorBody(code: 14, message: "devmesh's store is busy; retry later"),
                    extra: [("Retry-After", "1")])
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String) {
        refused = true
        respond(context, status, body: errorBody(code: 3, message: message))
    }

    /// OTLP errors carry a google.rpc.Status (code, message), in the request's encoding.
    private func errorBody(code: Int, message: String) -> [UInt8] {
        switch encoding {
        case .json:
            let escaped = message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return Array("{\"code\":\(code),\"message\":\"\(escaped)\"}".utf8)
        case .protobuf:
            var out: [UInt8] = [0x08, UInt8(code)]
            let text = Array(message.utf8)
            out.append(0x12)
            var length = text.count
            while length >= 0x80 {
                out.append(UInt8(length & 0x7F) | 0x80)
                length >>= 7
            }
            out.append(UInt8(length))
            return out + text
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, body: [UInt8], extra: [(String, String)] = []) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: encoding == .json ? "application/json" : "application/x-protobuf")
        headers.add(name: "Content-Length", value: String(body.count))
        for (name, value) in extra { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let keepAlive = self.keepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}
