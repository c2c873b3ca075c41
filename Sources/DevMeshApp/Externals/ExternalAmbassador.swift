import DevMeshCore
import DevMeshProxy
import DevMeshRecord
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The ambassador of one external (docs/externals.md): the "app" behind the external's inbound
/// sidecar, so callers reach it over mTLS and Istio-style policies select it like any workload
/// (`external-<name>`). Per call it answers from a recording (`replay`, `replay-or-live`) or from
/// the real service (`live`, `record`, a `replay-or-live` miss) — recording what it fetched when
/// the mode says so — and makes a client span and an access record naming the external's host.
final class ExternalAmbassador: Sendable {
    /// Request bodies bigger than this are refused with 413 (calls are held whole).
    static let maxRequest = 16 << 20

    struct Counters: Sendable, Equatable {
        var calls = 0
        var live = 0
        var replayed = 0
        var recorded = 0
        var misses = 0
        var failures = 0
    }

    struct Reply: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: ByteBuffer
        /// A HEAD answer's `Content-Length` as the external gave it (the body is empty).
        var headLength: String?
    }

    let config: ExternalConfig
    let client: ExternalClient
    private let mode: NIOLockedValueBox<ExternalConfig.Mode>
    private let counters = NIOLockedValueBox(Counters())
    private let telemetry: any TelemetrySink
    private let recordings: ExternalRecordings
    private let matcher: RecordingMatcher
    private let port: Int
    private let serverTask = NIOLockedValueBox<Task<Void, Never>?>(nil)

    init(config: ExternalConfig, client: ExternalClient, port: Int, telemetry: any TelemetrySink, recordings: ExternalRecordings) {
        self.config = config
        self.client = client
        self.port = port
        self.telemetry = telemetry
        self.recordings = recordings
        mode = NIOLockedValueBox(config.mode)
        matcher = RecordingMatcher(config.match)
    }

    var currentMode: ExternalConfig.Mode { mode.withLockedValue { $0 } }

    func setMode(_ new: ExternalConfig.Mode) { mode.withLockedValue { $0 = new } }

    /// Whether a `CONNECT` tunnel to this external may open now: not in `replay` mode (which
    /// promises the real external is not called) and not while the circuit breaker is open.
    func tunnelRefusal() -> ConnectRefusal? {
        if currentMode == .replay {
            return ConnectRefusal(status: 503, code: "external-in-replay",
                                  message: "external `\(config.name)` is in replay mode, and a CONNECT tunnel would reach the real one; call it in plain HTTP (`\(config.name.uppercased())_URL` or `http://\(config.name)/…`) to be answered from recordings, or switch the mode (`devmesh external mode \(config.name) live`)")
        }
        if let seconds = client.breakerOpenFor {
            return ConnectRefusal(status: 503, code: "circuit-open",
                                  message: "the circuit breaker of external `\(config.name)` is open; the next call is tried in \(seconds)s (circuit_breaker in devmesh.yaml)",
                                  retryAfter: seconds)
        }
        return nil
    }

    var counts: Counters { counters.withLockedValue { $0 } }

    // MARK: - the listener

    /// Binds 127.0.0.1:`port` and serves until `stop()`.
    func start(group: any EventLoopGroup) async throws {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let task = Task<Void, Never> {
            _ = try? await server.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in connections {
                            group.addTask { await self.serve(connection) }
                        }
                    } catch {}
                    group.cancelAll()
                }
            }
        }
        serverTask.withLockedValue { $0 = task }
    }

    func stop() async {
        let task = serverTask.withLockedValue { t -> Task<Void, Never>? in defer { t = nil }; return t }
        task?.cancel()
        await task?.value
        await client.shutdown()
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            var tooBig = false
            for try await part in inbound {
                switch part {
                case .head(let h):
                    head = h
                    body.clear()
                    tooBig = false
                case .body(var bytes):
                    if body.readableBytes + bytes.readableBytes > Self.maxRequest { tooBig = true } else { body.writeBuffer(&bytes) }
                case .end:
                    guard let request = head else { continue }
                    let reply = tooBig
                        ? Self.own(413, code: "request-too-large",
                                   message: "calls to external `\(config.name)` carry at most \(Self.maxRequest >> 20) MiB; the ambassador holds each call whole")
                        : await answer(request, body: body)
                    var headers = HTTPHeaders(reply.headers)
                    headers.replaceOrAdd(name: "content-length", value: request.method == .HEAD ? reply.headLength ?? "0" : String(reply.body.readableBytes))
                    if tooBig { headers.replaceOrAdd(name: "connection", value: "close") }
                    let status = HTTPResponseStatus(statusCode: reply.status)
                    try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
                    if reply.body.readableBytes > 0, request.method != .HEAD {
                        try await outbound.write(.body(.byteBuffer(reply.body)))
                    }
                    try await outbound.write(.end(nil))
                    if tooBig { return }
                }
            }
        }
    }

    // MARK: - one call

    /// Fields of the app's request kept in recordings and compared by `match.headers`: the mesh's
    /// own (forwarding, identity, trace) are not the app's.
    static func appHeaders(_ headers: HTTPHeaders) -> [(name: String, value: String)] {
        let listed = Set(headers[canonicalForm: "connection"].map { $0.lowercased() })
        return headers.filter { !ExternalClient.isDropped($0.name, connectionListed: listed) }.map { ($0.name, $0.value) }
    }

    func answer(_ head: HTTPRequestHead, body: ByteBuffer) async -> Reply {
        let startNanos = UInt64(max(0, Date().timeIntervalSince1970 * 1e9))
        let started = ContinuousClock.now
        var rng = SystemRandomNumberGenerator()
        let ids = TraceIDGenerator()
        let parent = head.headers.first(name: "traceparent").flatMap(TraceContext.parse)
        let traceID = parent?.traceID ?? ids.traceID(using: &rng)
        let spanID = ids.spanID(using: &rng)
        let caller = Self.caller(head.headers.first(name: "x-forwarded-client-cert"))
        let method = head.method.rawValue
        let target = head.uri
        let appHeaders = Self.appHeaders(head.headers)
        let mode = currentMode
        counters.withLockedValue { $0.calls += 1 }

        var attributes: [String: String] = [
            "devmesh.external": config.name, "devmesh.external.mode": mode.rawValue, "server.address": client.base.host,
            "server.port": String(client.base.port), "http.request.method": method,
            "url.full": client.base.url(for: recordings.redact(target: target)),
        ]
        if let caller { attributes["devmesh.caller"] = caller }
        var reply: Reply
        var record = mode == .record
        var attempts = 0
        var error: String?

        var lookedUp: ExternalRecordings.Lookup?
        if mode == .replay || mode == .replayOrLive {
            let call = CapturedExchange(
                timeNanos: startNanos, traceID: traceID, spanID: spanID, service: config.workload, listener: "external", source: caller,
                method: method, target: target, request: Self.side(appHeaders, body, limit: recordings.maxBody), status: nil,
                response: .init(), durationNanos: 0, redact: true)
            lookedUp = await recordings.find(call, workload: config.workload, matcher: matcher)
        }
        switch lookedUp {
        case .match(let recording)?:
            counters.withLockedValue { $0.replayed += 1 }
            attributes["devmesh.external.answer"] = "replayed"
            if let id = recording.id { attributes["devmesh.recording.id"] = String(id) }
            reply = Self.replayed(recording)
        case .miss(let closest)? where mode == .replay:
            counters.withLockedValue { $0.misses += 1 }
            attributes["devmesh.external.answer"] = "no-recording"
            error = "no recording matches"
            reply = missReply(method: method, target: recordings.redact(target: target), closest: closest)
        case .unavailable(let why)? where mode == .replay:
            counters.withLockedValue { $0.misses += 1 }
            attributes["devmesh.external.answer"] = "no-recording"
            error = "recordings unavailable"
            reply = Self.own(502, code: "no recording matches", message: "the recordings of external `\(config.name)` cannot be read: \(why)")
        default:
            // live, record, or a replay-or-live miss: the real external answers (and is recorded).
            // A failure fetched in replay-or-live is not kept: it would be replayed for good.
            if mode == .replayOrLive { record = true }
            counters.withLockedValue { $0.live += 1 }
            attributes["devmesh.external.answer"] = "live"
            let traceparent = TraceContext(traceID: traceID, spanID: spanID, flags: parent?.flags ?? 1).header(spanID: spanID)
            switch await client.call(method: method, target: target, headers: appHeaders, body: body, traceparent: traceparent,
                                     tracestate: head.headers.first(name: "tracestate")) {
            case .success(let answer):
                attempts = answer.attempts
                attributes["network.protocol.version"] = answer.protocolVersion
                reply = Reply(status: answer.status, headers: answer.headers.filter { !Self.hopByHop.contains($0.name.lowercased()) },
                              body: answer.body)
                if answer.status >= 500 { counters.withLockedValue { $0.failures += 1 } }
                if mode == .replayOrLive, answer.status >= 500 || answer.status == 429 { record = false }
                if method == "HEAD", let length = answer.headers.first(where: { $0.name.lowercased() == "content-length" })?.value {
                    reply.headLength = length
                }
            case .failure(let failure):
                attempts = failure.attempts
                error = failure.code
                record = false
                counters.withLockedValue { $0.failures += 1 }
                reply = Self.own(failure.status, code: failure.code, message: failure.message,
                                 extra: failure.retryAfter.map { [("Retry-After", String($0))] } ?? [])
            }
        }
        let duration = UInt64(max(0, (ContinuousClock.now - started).nanoseconds))
        if attempts > 1 { attributes["http.request.resend_count"] = String(attempts - 1) }
        attributes["http.response.status_code"] = String(reply.status)
        if let error { attributes["error.type"] = error }
        if record {
            counters.withLockedValue { $0.recorded += 1 }
            var bytes = reply.body
            let responseBytes = bytes.readBytes(length: min(bytes.readableBytes, recordings.maxBody)) ?? []
            var capture = CapturedExchange(
                timeNanos: startNanos, traceID: traceID, spanID: spanID, service: config.workload, listener: "external", source: caller,
                method: method, target: target, request: Self.side(appHeaders, body, limit: recordings.maxBody), status: reply.status,
                response: .init(headers: reply.headers, wire: responseBytes, wireSize: reply.body.readableBytes), durationNanos: duration,
                redact: true)
            capture.knownSecrets = client.secretValues
            telemetry.record(capture: capture)
        }
        if telemetry.isEnabled {
            let path = String(target.prefix { $0 != "?" })
            telemetry.record(span: SpanRecord(
                traceID: traceID, spanID: spanID, parentSpanID: parent?.spanID, service: config.workload, instance: nil, kind: .client,
                name: "\(method) \(client.base.host)", startNanos: startNanos, durationNanos: duration,
                status: reply.status >= 500 || error != nil ? .error : .unset, attributes: attributes))
            telemetry.record(access: AccessLogRecord(
                time: Double(startNanos) / 1e9, listener: "external", service: config.workload, instance: nil, source: caller,
                method: method, path: path, status: reply.status, durationMillis: Double(duration) / 1e6,
                bytesIn: UInt64(body.readableBytes), bytesOut: UInt64(reply.body.readableBytes), upstream: client.base.authority,
                traceID: traceID, spanID: spanID, error: error, attempts: max(attempts, 1)))
        }
        return reply
    }

    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
                                        "content-length"]

    static func side(_ headers: [(name: String, value: String)], _ body: ByteBuffer, limit: Int) -> CapturedExchange.Side {
        var copy = body
        let kept = copy.readBytes(length: min(copy.readableBytes, limit)) ?? []
        return CapturedExchange.Side(headers: headers, wire: kept, wireSize: body.readableBytes)
    }

    /// The recorded answer, framed anew (its body is stored de-chunked and decoded).
    static func replayed(_ recording: RecordedExchange) -> Reply {
        var headers = recording.response.headers.filter {
            let lower = $0.name.lowercased()
            return !hopByHop.contains(lower) && lower != RecordingFinisher.notStoredHeader.lowercased()
        }
        headers.append(("x-devmesh-replayed", recording.id.map(String.init) ?? "yes"))
        let length = recording.response.headers.first { $0.name.lowercased() == "content-length" }?.value
        return Reply(status: recording.status ?? 502, headers: headers, body: ByteBuffer(bytes: recording.response.body),
                     headLength: recording.method == "HEAD" ? length : nil)
    }

    func missReply(method: String, target: String, closest: [RecordingMatcher.Near]) -> Reply {
        var lines = ["no recording of external `\(config.name)` matches \(method) \(target) (mode replay)"]
        if closest.isEmpty {
            lines.append("there are no usable recordings of it yet")
        } else {
            lines.append("closest recordings:")
            for near in closest {
                lines.append("  #\(near.id.map(String.init) ?? "?") \(near.method) \(near.target) — differs in \(near.differences.joined(separator: "; "))")
            }
        }
        lines.append("hint: record it with `devmesh external mode \(config.name) replay-or-live` (or `record`) while the external is reachable; `match` in devmesh.yaml decides which fields must be equal")
        var reply = Self.own(502, code: "no recording matches", message: lines.joined(separator: "\n"))
        if !closest.isEmpty {
            reply.headers.append(("x-devmesh-closest", closest.compactMap { $0.id.map(String.init) }.joined(separator: ", ")))
        }
        return reply
    }

    static func own(_ status: Int, code: String, message: String, extra: [(name: String, value: String)] = []) -> Reply {
        Reply(status: status, headers: [("Content-Type", "text/plain; charset=utf-8"), ("x-devmesh-error", code)] + extra,
              body: ByteBuffer(string: "devmesh: \(message)\n"))
    }

    /// The caller's principal from the inbound sidecar's `x-forwarded-client-cert` (`URI=spiffe://…`).
    static func caller(_ xfcc: String?) -> String? {
        guard let xfcc else { return nil }
        for part in xfcc.split(separator: ";") where part.hasPrefix("URI=") {
            let uri = part.dropFirst(4)
            return uri.hasPrefix("spiffe://") ? String(uri.dropFirst(9)) : String(uri)
        }
        return nil
    }
}
