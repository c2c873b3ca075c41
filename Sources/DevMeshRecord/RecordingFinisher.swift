import DevMeshCore
import Foundation

/// Finishes a capture into what is stored (`ExchangeFinishing`, run on the writer thread):
/// framing removed, gzip undone, and — unless the route or service opted out — every credential
/// header, secret query parameter and secret body field replaced by the redactor's marker.
public struct RecordingFinisher: ExchangeFinishing {
    public let redactor: Redactor
    public let maxBody: Int

    public init(redactor: Redactor, maxBody: Int = RecordingConfig.defaultMaxBody) {
        self.redactor = redactor
        self.maxBody = maxBody
    }

    public func redact(target: String) -> String {
        guard let q = target.firstIndex(of: "?") else { return target }
        return String(target[...q]) + redactor.redact(query: String(target[target.index(after: q)...]))
    }

    public func finish(_ c: CapturedExchange) -> RecordedExchange {
        var redactions = 0
        var target = c.target
        var request = message(c.request)
        var response = message(c.response)
        if c.redact {
            var secrets = SecretValues()
            if let q = target.firstIndex(of: "?") {
                let query = String(target[target.index(after: q)...])
                var found: [String] = []
                let redacted = redactor.redact(query: query, secrets: &found)
                redactions += Self.markerCount(redacted) - Self.markerCount(query)
                secrets.add(found)
                target = String(target[...q]) + redacted
            }
            request = redact(request, &redactions, &secrets)
            response = redact(response, &redactions, &secrets)
            // A secret redacted in one place must not survive in another: an app that echoes the
            // token it got, a response that repeats the password. Every copy gets the same marker.
            if !secrets.values.isEmpty {
                target = secrets.replace(in: target, redactor: redactor, count: &redactions)
                request = secrets.replace(in: request, redactor: redactor, count: &redactions)
                response = secrets.replace(in: response, redactor: redactor, count: &redactions)
            }
        }
        return RecordedExchange(
            timeNanos: c.timeNanos, traceID: c.traceID, spanID: c.spanID, service: c.service, listener: c.listener,
            source: c.source, method: c.method, target: target, request: request, status: c.status, response: response,
            durationNanos: c.durationNanos, redactions: redactions)
    }

    /// A replayed answer redacted as the recording was: equal secrets get equal markers, so a
    /// redacted field still compares (same token → same marker), and the replay's output never
    /// shows a secret either. `known`: values the replay sent (fresh credentials), replaced too.
    public func redactReplayed(_ m: RecordedExchange.Message, known: [String]) -> RecordedExchange.Message {
        var count = 0
        var secrets = SecretValues()
        secrets.add(known)
        let redacted = redact(m, &count, &secrets)
        return secrets.replace(in: redacted, redactor: redactor, count: &count)
    }

    func message(_ side: CapturedExchange.Side) -> RecordedExchange.Message {
        var body = side.chunked ? ChunkedDecoding.decode(side.wire) : side.wire
        var size = side.chunked && !side.truncated ? body.count : side.wireSize
        var headers = side.headers
        let decoded = BodyDecoding.decode(headers: headers, body: body, complete: !side.truncated, limit: maxBody)
        if let full = decoded.size {
            headers = decoded.headers
            body = decoded.body
            size = full
        }
        return RecordedExchange.Message(headers: headers, body: body, size: max(size, body.count))
    }

    func redact(_ m: RecordedExchange.Message, _ count: inout Int, _ secrets: inout SecretValues) -> RecordedExchange.Message {
        var out = m
        var found: [String] = []
        defer { secrets.add(found) }
        out.headers = redactor.redact(headers: m.headers, secrets: &found)
        count += zip(m.headers, out.headers).filter { $0.0.value != $0.1.value }.count
        guard !m.body.isEmpty else { return out }
        let contentType = m.headers.first { $0.name.lowercased() == "content-type" }?.value.lowercased() ?? ""
        if contentType.hasPrefix("application/x-www-form-urlencoded"), let text = String(validating: m.body, as: UTF8.self) {
            let redacted = redactor.redact(query: text, secrets: &found)
            let n = Self.markerCount(redacted) - Self.markerCount(text)
            if n > 0 {
                out.body = Array(redacted.utf8)
                count += n
            }
            return out
        }
        if !m.truncated, let result = redactor.redact(jsonBody: m.body, secrets: &found) {
            out.body = result.body
            count += result.redacted
            return out
        }
        // Not JSON as a whole — a truncated document, JSON lines, or JSON inside text: every
        // `"field": value` of a secret field is still found and replaced.
        let scanned = redactor.redact(jsonText: m.body, secrets: &found)
        if scanned.redacted > 0 {
            out.body = scanned.body
            count += scanned.redacted
        }
        return out
    }

    static func markerCount(_ text: String) -> Int {
        text.components(separatedBy: "[redacted:").count - 1
    }
}
