import AsyncHTTPClient
import DevMeshCore
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL

/// The live side of one external's ambassador: a pooled HTTPS client (HTTP/2 when the external
/// offers it by ALPN, HTTP/1.1 otherwise; SNI and verification against the system's roots plus
/// the external's `ca`), the injected headers, the per-attempt timeout, retries of idempotent
/// calls, and the circuit breaker. It never sees the recordings; the ambassador decides when to
/// call it.
final class ExternalClient: Sendable {
    /// Answers bigger than this are refused with 502 (the ambassador holds each answer whole).
    static let maxAnswer = 64 << 20

    struct Answer: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: ByteBuffer
        /// `1.1` or `2`.
        var protocolVersion: String
        var attempts: Int
    }

    struct Failure: Error, Sendable {
        var status: Int
        /// `x-devmesh-error`.
        var code: String
        var message: String
        var attempts: Int
        var retryAfter: Int?
        /// The connection failed before the request went out: safe to retry for any method.
        var sentNothing = false
    }

    let config: ExternalConfig
    let base: ExternalURL
    /// Injected on every call, after `${VAR}` expansion (never logged, recorded or shown).
    private let injected: [(name: String, value: String)]
    private let client: HTTPClient
    private let breaker: NIOLockedValueBox<CircuitBreaker>
    private let started = ContinuousClock.now

    /// `caFile`: the external's `ca`, already resolved against the stack's root and checked.
    init(config: ExternalConfig, injected: [(name: String, value: String)], caFile: String?) throws {
        guard let base = config.base else { throw ExternalSetupError("`url` of external `\(config.name)` is not a usable URL") }
        self.config = config
        self.base = base
        self.injected = injected
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.additionalTrustRoots = [.file(caFile)] }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow, decompression: .disabled)
        configuration.httpVersion = .automatic
        configuration.timeout = .init(connect: .nanoseconds(min(config.timeout.nanoseconds, 10_000_000_000)))
        configuration.connectionPool.idleTimeout = .seconds(60)
        // A failed connection (refused, TLS verification) must fail the call at once: left to
        // itself the pool retries connecting until the deadline, which turns a certificate error
        // into a timeout after `timeout` — and the ambassador's own retries already back off.
        // Such a failure fails every call then waiting for a connection; `call` retries them all,
        // whatever their method, since none was sent.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        breaker = NIOLockedValueBox(CircuitBreaker(failures: config.breaker.failures, openFor: config.breaker.openFor))
    }

    /// The injected values, and their credentials without a scheme (`Bearer x` → `x`): what
    /// recordings must never hold, even when the external echoes them.
    var secretValues: [String] {
        injected.flatMap { Self.credentialForms(of: $0.value) }
    }

    static func credentialForms(of value: String) -> [String] {
        let parts = value.split(separator: " ", maxSplits: 1)
        return parts.count == 2 ? [value, String(parts[1])] : [value]
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    var breakerState: CircuitBreaker { breaker.withLockedValue { $0 } }

    /// Seconds until an open breaker lets a call try again; nil when it is closed or due a probe.
    var breakerOpenFor: Int? {
        let b = breakerState
        guard b.state == .open, b.openUntil > now else { return nil }
        return max(1, Int((b.openUntil - now).rounded(.up)))
    }

    private var now: Double {
        let c = (ContinuousClock.now - started).components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    static let idempotent: Set<String> = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]
    /// Dropped from the app's request: hop-by-hop fields, the mesh's own, and what `url` decides.
    static let dropped: Set<String> = ["host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
                                       "upgrade", "content-length", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                                       "x-forwarded-client-cert", "forwarded", "via", "traceparent", "tracestate", "expect"]

    /// Whether a field of the app's request stays out of the external's request and the recording:
    /// hop-by-hop and mesh fields, devmesh's own, and any the request's `Connection` lists.
    static func isDropped(_ name: String, connectionListed: Set<String>) -> Bool {
        let lower = name.lowercased()
        return dropped.contains(lower) || lower.hasPrefix("x-devmesh-") || connectionListed.contains(lower)
    }

    /// One call, with retries; `trace` becomes the `traceparent` the external gets.
    func call(method: String, target: String, headers: [(name: String, value: String)], body: ByteBuffer,
              traceparent: String?, tracestate: String?) async -> Result<Answer, Failure> {
        let generation: Int
        switch breaker.withLockedValue({ $0.admit(now: now) }) {
        case .refused(let after):
            let seconds = max(1, Int(after.rounded(.up)))
            return .failure(Failure(status: 503, code: "circuit-open",
                                    message: "the circuit breaker of external `\(config.name)` is open after \(config.breaker.failures) failed calls in a row; the next call is tried in \(seconds)s (circuit_breaker in devmesh.yaml)",
                                    attempts: 0, retryAfter: seconds))
        case .allowed(let g), .probe(let g):
            generation = g
        }
        // Every admitted call reports to the breaker, also when it is cancelled: a probe that
        // never reported would keep the breaker half-open, refusing everything.
        var reported = false
        defer {
            if !reported { breaker.withLockedValue { $0.abandonProbe(generation: generation) } }
        }
        var request = HTTPClientRequest(url: base.url(for: target))
        request.method = HTTPMethod(rawValue: method)
        let injectedNames = Set(injected.map { $0.name.lowercased() })
        for (name, value) in headers {
            let lower = name.lowercased()
            if Self.dropped.contains(lower) || injectedNames.contains(lower) { continue }
            request.headers.add(name: name, value: value)
        }
        for (name, value) in injected { request.headers.add(name: name, value: value) }
        if let traceparent { request.headers.replaceOrAdd(name: "traceparent", value: traceparent) }
        if let tracestate { request.headers.replaceOrAdd(name: "tracestate", value: tracestate) }
        if body.readableBytes > 0 || !["GET", "HEAD", "OPTIONS", "DELETE", "TRACE"].contains(method) {
            request.body = .bytes(body)
        }
        // Idempotent calls are retried on failures and 502/503/504; any call when its connection
        // failed before the request went out (refused, connect timeout, TLS handshake).
        let idempotent = Self.idempotent.contains(method)
        var attempt = 0
        var last: Result<Answer, Failure>
        repeat {
            attempt += 1
            last = await once(request, attempt: attempt)
            let retryable: Bool
            switch last {
            case .success(let answer): retryable = idempotent && [502, 503, 504].contains(answer.status)
            case .failure(let failure):
                retryable = (idempotent || failure.sentNothing) && failure.code != "tls-verification-failed" && failure.code != "answer-too-large"
            }
            guard retryable, attempt < 1 + config.retries, !Task.isCancelled else { break }
            // 100 ms, 200 ms, 400 ms…: a short back-off, bounded by the attempts configured.
            try? await Task.sleep(for: .milliseconds(100 << min(attempt - 1, 5)))
        } while true
        let success: Bool
        switch last {
        case .success(let answer): success = answer.status < 500
        case .failure: success = false
        }
        breaker.withLockedValue { $0.record(success: success, now: now, generation: generation) }
        reported = true
        return last.map(scrubbed)
    }

    /// The answer without the injected values: an external that echoes the credential must not
    /// hand it to the app (nor, through the app, to anything that records).
    func scrubbed(_ answer: Answer) -> Answer {
        let secrets = secretValues.filter { $0.utf8.count >= 4 }.sorted { $0.utf8.count > $1.utf8.count }
        guard !secrets.isEmpty else { return answer }
        var out = answer
        out.headers = answer.headers.map { field in
            var value = field.value
            for secret in secrets where value.contains(secret) { value = value.replacingOccurrences(of: secret, with: Self.scrubMarker) }
            return (field.name, value)
        }
        var bytes = Array(answer.body.readableBytesView)
        var changed = false
        for secret in secrets {
            if let replaced = Self.replacing(Array(secret.utf8), with: Array(Self.scrubMarker.utf8), in: bytes) {
                bytes = replaced
                changed = true
            }
        }
        if changed { out.body = ByteBuffer(bytes: bytes) }
        return out
    }

    /// `bytes` with every occurrence of `needle` replaced, or nil when there is none.
    static func replacing(_ needle: [UInt8], with replacement: [UInt8], in bytes: [UInt8]) -> [UInt8]? {
        guard !needle.isEmpty, bytes.count >= needle.count else { return nil }
        var result: [UInt8] = []
        var i = 0
        var found = false
        while i < bytes.count {
            if i + needle.count <= bytes.count, bytes[i] == needle[0], bytes[i..<i + needle.count].elementsEqual(needle) {
                result.append(contentsOf: replacement)
                i += needle.count
                found = true
            } else {
                result.append(bytes[i])
                i += 1
            }
        }
        return found ? result : nil
    }

    static let scrubMarker = "[devmesh: injected credential]"

    /// One attempt. `timeout` covers the whole answer: async-http-client's deadline ends with
    /// the head, so an external that sends its head and then stalls the body is cut off here.
    private func once(_ request: HTTPClientRequest, attempt: Int) async -> Result<Answer, Failure> {
        let timeout = TimeAmount.nanoseconds(config.timeout.nanoseconds)
        let client = client, limit = Self.maxAnswer
        do {
            let answer = try await withThrowingTaskGroup(of: Answer?.self) { group in
                group.addTask {
                    let response = try await client.execute(request, timeout: timeout)
                    let body = try await response.body.collect(upTo: limit)
                    return Answer(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: body,
                                  protocolVersion: response.version.major == 2 ? "2" : "1.1", attempts: attempt)
                }
                group.addTask {
                    try await Task.sleep(nanoseconds: UInt64(max(0, timeout.nanoseconds)))
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let answer = first else { throw HTTPClientError.deadlineExceeded }
                return answer
            }
            return .success(answer)
        } catch is NIOTooManyBytesError {
            return .failure(Failure(status: 502, code: "answer-too-large",
                                    message: "external `\(config.name)` answered more than \(Self.maxAnswer >> 20) MiB; the ambassador holds answers whole and refuses bigger ones",
                                    attempts: attempt))
        } catch {
            return .failure(describe(error, attempt: attempt))
        }
    }

    /// What failed, in words naming the external's host.
    func describe(_ error: any Error, attempt: Int) -> Failure {
        let host = base.authority
        let text = "\(error)"
        if let client = error as? HTTPClientError, client == .connectTimeout {
            return Failure(status: 504, code: "external-timeout", message: "connecting to external `\(config.name)` at \(host) timed out",
                           attempts: attempt, sentNothing: true)
        }
        if let client = error as? HTTPClientError, client == .deadlineExceeded || client == .readTimeout {
            return Failure(status: 504, code: "external-timeout",
                           message: "external `\(config.name)` (\(host)) did not answer within \(Self.text(config.timeout)) (`timeout` in devmesh.yaml)",
                           attempts: attempt)
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") || text.contains("failedToValidateHostname")
            || text.contains("unableToValidateCertificate") || error is NIOSSLExtraError {
            return Failure(status: 502, code: "tls-verification-failed",
                           message: "TLS verification of \(host) failed for external `\(config.name)`: \(Self.shortened(text)); if it uses a private CA, set `ca:` of external `\(config.name)` to that CA's PEM file",
                           attempts: attempt)
        }
        if error is NIOSSLError || text.contains("handshake") {
            return Failure(status: 502, code: "tls-failed",
                           message: "the TLS handshake with \(host) failed for external `\(config.name)`: \(Self.shortened(text))",
                           attempts: attempt, sentNothing: true)
        }
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED || text.contains("Connection refused") {
            return Failure(status: 502, code: "external-refused", message: "external `\(config.name)` refused the connection at \(host)",
                           attempts: attempt, sentNothing: true)
        }
        if text.contains("connectTimeout") || text.contains("Connect timeout") {
            return Failure(status: 504, code: "external-timeout", message: "connecting to external `\(config.name)` at \(host) timed out",
                           attempts: attempt, sentNothing: true)
        }
        if text.contains("remoteConnectionClosed") || text.contains("Connection reset") {
            return Failure(status: 502, code: "external-reset", message: "external `\(config.name)` (\(host)) closed the connection before answering",
                           attempts: attempt)
        }
        return Failure(status: 502, code: "external-failed", message: "calling external `\(config.name)` at \(host) failed: \(Self.shortened(text))",
                       attempts: attempt)
    }

    static func shortened(_ text: String) -> String {
        text.count > 300 ? String(text.prefix(297)) + "…" : text
    }

    static func text(_ d: Duration) -> String {
        let ms = d.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}

struct ExternalSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    var nanoseconds: Int64 {
        let c = components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
}
