import AsyncHTTPClient
import DevMeshCore
import DevMeshRecord
import DevMeshTLS
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Sends recorded requests again and diffs the answers (`devmesh replay`, the UI's Replay):
/// to the gateway (HTTPS, trusting the devmesh CA), straight to a service's listener, or to
/// any URL. The request carries the recording's trace id, so the replayed hops (and the
/// gateway's new recording of it) join the recording's trace.
public struct Replayer: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Where requests go: a base URL, and whether the recorded `Host` is sent (the gateway routes by it).
    public struct Target: Sendable, Equatable {
        public var baseURL: String
        public var keepHost: Bool
        public var label: String
    }

    /// The running stack's ports (nil: nothing runs, only URL targets work).
    public var ports: StackState.Ports?
    public var services: [String]
    public var credentials: ReplayCredentials
    public var options: DiffOptions
    public var maxBody: Int
    public var timeout: TimeAmount
    /// The user's redaction: replayed answers are redacted like recordings before comparing.
    public var redaction: RecordingFinisher?
    /// Send a `devmesh-replay` span to the stack's OTLP port for each replay: the parent of the
    /// replayed hops in the recording's trace (off for load replays: one span per request there
    /// would only fill the store).
    public var recordsSpans = true
    let client: HTTPClient

    public init(ports: StackState.Ports?, services: [String] = [], credentials: ReplayCredentials = ReplayCredentials(),
                options: DiffOptions = DiffOptions(), maxBody: Int = RecordingConfig.defaultMaxBody, timeout: TimeAmount = .seconds(30),
                redaction: RecordingFinisher?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.ports = ports
        self.services = services
        self.credentials = credentials
        self.options = options
        self.maxBody = maxBody
        self.timeout = timeout
        self.redaction = redaction
        // System trust plus the devmesh CA (the gateway's certificates chain to it).
        var tls = TLSConfiguration.makeClientConfiguration()
        let ca = DevMeshHome.caDirectory(home: DevMeshHome.resolve(environment: environment)) + "/" + CertificateAuthority.certificateFileName
        if FileManager.default.fileExists(atPath: ca) { tls.additionalTrustRoots = [.file(ca)] }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow, decompression: .disabled)
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// The user's redaction (key in `$DEVMESH_HOME`) with the stack's extra names.
    public static func finisher(recording: RecordingConfig, maxBody: Int, environment: [String: String]) throws -> RecordingFinisher {
        RecordingFinisher(redactor: try MeshRecording.redactor(recording: recording, environment: environment), maxBody: maxBody)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// `gateway`, a service name, or an http(s) URL; nil: where the exchange was recorded.
    public func resolve(_ target: String?, recordedAt service: String) throws -> Target {
        try Self.resolve(target, recordedAt: service, ports: ports)
    }

    public static func resolve(_ target: String?, recordedAt service: String, ports: StackState.Ports?) throws -> Target {
        let wanted = target ?? (service == "devmesh-gateway" ? "gateway" : service)
        if wanted.hasPrefix("http://") || wanted.hasPrefix("https://") {
            var base = wanted
            while base.hasSuffix("/") { base.removeLast() }
            guard let url = URLComponents(string: base), url.host != nil, (url.path.isEmpty || url.path == "/") else {
                throw Failure(description: "--target `\(wanted)` is not a base URL such as http://127.0.0.1:8080 (no path)")
            }
            return Target(baseURL: base, keepHost: false, label: base)
        }
        guard let ports else {
            throw Failure(description: "no devmesh stack is running here, so `\(wanted)` cannot be reached\n  hint: start it with `devmesh up`, or give --target http://HOST:PORT")
        }
        if wanted == "gateway" || wanted == "devmesh-gateway" {
            if let https = ports.gateway?["https"] { return Target(baseURL: "https://localhost:\(https)", keepHost: true, label: "gateway (https://localhost:\(https))") }
            if let http = ports.gateway?["http"] { return Target(baseURL: "http://127.0.0.1:\(http)", keepHost: true, label: "gateway (http://127.0.0.1:\(http))") }
            throw Failure(description: "this stack has no gateway\n  hint: add `gateway: {}` to devmesh.yaml, or give --target SERVICE")
        }
        guard let port = ports.services[wanted] else {
            let known = ports.services.keys.sorted()
            throw Failure(description: "no service `\(wanted)` with a listener in the running stack\n  hint: use `gateway`, one of \(known.isEmpty ? "(none)" : known.joined(separator: ", ")), or a URL")
        }
        return Target(baseURL: "http://127.0.0.1:\(port)", keepHost: false, label: "\(wanted) (http://127.0.0.1:\(port))")
    }

    /// Replays one exchange and compares the answer with the recorded one.
    public func replay(_ e: RecordedExchange, to target: Target, extraRules: [JSONDiff.IgnoreRule] = [],
                       extraIgnoredHeaders: [String] = []) async -> ReplayDiff {
        var options = options
        options.rules += extraRules
        options.extraIgnoredHeaders += extraIgnoredHeaders.map { $0.lowercased() }
        var rng = SystemRandomNumberGenerator()
        let traceID = e.traceID.count == 32 ? e.traceID : String(format: "%016llx%016llx", rng.next() as UInt64, rng.next() as UInt64)
        let spanID = String(format: "%016llx", rng.next() as UInt64)
        let request = ReplayRequest(e, credentials: credentials, keepHost: target.keepHost, traceparent: "00-\(traceID)-\(spanID)-01")
        var diff: ReplayDiff
        let startNanos = UInt64(Date().timeIntervalSince1970 * 1e9)
        do {
            let response = try await send(request, to: target)
            // Redacted like the recording was (a `redact: false` one compares plainly): a replay's
            // output then never shows a secret either.
            // A credential with a scheme (`Bearer x`) is a secret by its second part, as recorded.
            let known = credentials.headers.map { h in
                let parts = h.value.split(separator: " ", maxSplits: 1)
                return parts.count == 2 && ["bearer", "basic", "token"].contains(parts[0].lowercased()) ? String(parts[1]) : h.value
            }
            let redaction = e.redacted ? redaction.map { ($0, known) } : nil
            diff = ReplayDiff.compare(recordedStatus: e.status, recorded: e.response, replayed: response, options: options,
                                      redaction: redaction)
        } catch {
            diff = ReplayDiff.unanswered(recordedStatus: e.status, recorded: e.response, rules: options.rules,
                                         reason: "\(target.label) did not answer: \(Self.explain(error, target: target))")
        }
        if recordsSpans, let otlp = ports?.otlp {
            let span = Self.replaySpan(of: e, to: target, traceID: traceID, spanID: spanID, start: startNanos,
                                       end: UInt64(Date().timeIntervalSince1970 * 1e9), status: diff.replayed.status, equal: diff.equal)
            await postSpan(span, port: otlp)
        }
        diff.id = e.id
        diff.target = target.label
        diff.replayed.traceID = traceID
        diff.warnings = request.warnings + diff.warnings
        return diff
    }

    /// The replay as an OTLP/JSON span (client kind), the parent of the replayed hops.
    static func replaySpan(of e: RecordedExchange, to target: Target, traceID: String, spanID: String, start: UInt64, end: UInt64,
                           status: Int?, equal: Bool) -> [String: Any] {
        func attribute(_ key: String, _ value: Any) -> [String: Any] {
            if let n = value as? Int { return ["key": key, "value": ["intValue": String(n)]] }
            if let b = value as? Bool { return ["key": key, "value": ["boolValue": b]] }
            return ["key": key, "value": ["stringValue": "\(value)"]]
        }
        var attributes = [attribute("http.request.method", e.method),
                          attribute("url.path", e.target.split(separator: "?").first.map(String.init) ?? e.target),
                          attribute("devmesh.replay.target", target.label), attribute("devmesh.replay.identical", equal)]
        if let id = e.id { attributes.append(attribute("devmesh.replay.of", Int(id))) }
        if let status { attributes.append(attribute("http.response.status_code", status)) }
        let name = e.id.map { "replay #\($0) \(e.method)" } ?? "replay \(e.method)"
        let span: [String: Any] = [
            "traceId": traceID, "spanId": spanID, "name": name, "kind": 3,
            "startTimeUnixNano": String(start), "endTimeUnixNano": String(max(end, start)),
            "attributes": attributes, "status": ["code": status == nil || (status ?? 0) >= 500 ? 2 : 0],
        ]
        return ["resourceSpans": [[
            "resource": ["attributes": [attribute("service.name", "devmesh-replay")]],
            "scopeSpans": [["scope": ["name": "devmesh"], "spans": [span]]],
        ]]]
    }

    /// Best effort: a stack that is gone or slow costs the replay at most 2 s, and no error.
    func postSpan(_ span: [String: Any], port: Int) async {
        guard let data = try? JSONSerialization.data(withJSONObject: span) else { return }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/traces")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: data))
        _ = try? await client.execute(request, timeout: .seconds(2))
    }

    /// What went wrong, in words that say what to do (a certificate error is almost always a
    /// DEVMESH_HOME that differs from the stack's, so the CA trusted here is not the gateway's).
    static func explain(_ error: any Error, target: Target) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "its TLS certificate is not trusted (\(target.baseURL)); devmesh trusts the system CAs and the devmesh CA of DEVMESH_HOME — run replay with the same DEVMESH_HOME as `devmesh up`, or give --target with http://"
        }
        if let client = error as? HTTPClientError, client == .deadlineExceeded {
            return "no answer before the timeout (--timeout)"
        }
        if text.contains("connectionRefused") || text.contains("Connection refused") {
            return "connection refused; is the stack running (`devmesh status`)?"
        }
        return text
    }

    func send(_ request: ReplayRequest, to target: Target) async throws -> ReplayedResponse {
        var http = HTTPClientRequest(url: target.baseURL + request.target)
        http.method = HTTPMethod(rawValue: request.method)
        for field in request.headers { http.headers.add(name: field.name, value: field.value) }
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) {
            http.body = .bytes(ByteBuffer(bytes: request.body))
        }
        let start = ContinuousClock.now
        let deadline = NIODeadline.now() + timeout
        let response = try await client.execute(http, deadline: deadline)
        // The client's deadline ends with the head: the body is read under the same deadline here,
        // so a stalled or endless answer cannot hang a suite in CI.
        let maxBody = maxBody
        let remaining = max(deadline.uptimeNanoseconds, NIODeadline.now().uptimeNanoseconds) - NIODeadline.now().uptimeNanoseconds
        let (body, size) = try await withThrowingTaskGroup(of: ([UInt8], Int)?.self) { group in
            group.addTask {
                var body: [UInt8] = []
                var size = 0
                for try await chunk in response.body {
                    size += chunk.readableBytes
                    let room = maxBody - body.count
                    if room > 0 { body += chunk.readableBytesView.prefix(room) }
                }
                return (body, size)
            }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(Int64(remaining)))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw HTTPClientError.deadlineExceeded }
            return first
        }
        let elapsed = ContinuousClock.now - start
        return ReplayedResponse(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                                body: body, size: size,
                                durationMillis: Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
    }
}
