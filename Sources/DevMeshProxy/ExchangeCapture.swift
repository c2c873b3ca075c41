import DevMeshCore
import DevMeshHTTP1
import NIOCore

/// Where a listener records exchanges for replay (the gateway: per route; an inbound sidecar:
/// when its service has `record: true`).
public struct RecordingSettings: Sendable, Equatable {
    /// Bytes kept of each body.
    public var maxBody: Int
    /// For inbound sidecars: whether to redact (the gateway takes it from the matched route).
    public var redact: Bool

    public init(maxBody: Int = RecordingConfig.defaultMaxBody, redact: Bool = true) {
        self.maxBody = maxBody
        self.redact = redact
    }
}

/// The part of one exchange kept for its recording: body bytes are copied as they are forwarded,
/// up to the limit, and counted beyond it. Only exchanges that are recorded carry one.
final class ExchangeCapture {
    let limit: Int
    let redact: Bool
    var request: CapturedExchange.Side
    var response = CapturedExchange.Side()
    var status: Int?
    /// The answer broke off (upstream reset, client gone): its body is marked cut.
    var responseIncomplete = false

    init(head: HTTP1RequestHead, limit: Int, redact: Bool) {
        self.limit = limit
        self.redact = redact
        request = CapturedExchange.Side(headers: head.fields.map { ($0.name, $0.value) }, chunked: head.framing == .chunked)
    }

    func requestBody(_ bytes: ByteBuffer) { Self.append(bytes, to: &request, limit: limit) }

    func responseBody(_ bytes: ByteBuffer) { Self.append(bytes, to: &response, limit: limit) }

    func responseHead(_ head: HTTP1ResponseHead) {
        status = head.status
        response = CapturedExchange.Side(headers: head.fields.map { ($0.name, $0.value) }, chunked: head.framing == .chunked)
    }

    /// An answer devmesh wrote itself (a refusal, 502/503/504): its bytes are parsed back so the
    /// recording holds exactly what the client got.
    func ownAnswer(_ bytes: ByteBuffer, limits: HTTP1Limits) {
        var copy = bytes
        let parsed = copy.withUnsafeReadableBytes { HTTP1ResponseParser(limits: limits).parse($0, requestMethod: "GET") }
        guard case .complete(let head) = parsed else { return }
        responseHead(head)
        copy.moveReaderIndex(forwardBy: head.headLength)
        responseBody(copy)
    }

    private static func append(_ bytes: ByteBuffer, to side: inout CapturedExchange.Side, limit: Int) {
        let n = bytes.readableBytes
        side.wireSize += n
        let room = limit - side.wire.count
        guard room > 0 else { return }
        // One allocation for a typical body instead of doubling as it grows.
        if side.wire.isEmpty { side.wire.reserveCapacity(min(limit, max(n, 4096))) }
        bytes.withUnsafeReadableBytes { side.wire.append(contentsOf: $0.prefix(room)) }
    }

    func captured(_ exchange: Exchange, route: ProxyRoute, status: Int?, durationNanos: UInt64, source: String?) -> CapturedExchange {
        var response = response
        if responseIncomplete { response.wireSize = max(response.wireSize + 1, response.wireSize) }
        return CapturedExchange(
            timeNanos: exchange.startNanos, traceID: exchange.trace.traceID, spanID: exchange.spanID,
            service: route.service, listener: route.role.rawValue, source: source,
            method: exchange.head.method, target: exchange.head.target, request: request, status: status ?? self.status,
            response: response, durationNanos: durationNanos, redact: redact)
    }
}
