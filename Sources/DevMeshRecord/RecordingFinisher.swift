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

    public func finish(_ c: CapturedExchange) -> RecordedExchange {
        var redactions = 0
        var target = c.target
        var request = message(c.request)
        var response = message(c.response)
        if c.redact {
            if let q = target.firstIndex(of: "?") {
                let query = String(target[target.index(after: q)...])
                let redacted = redactor.redact(query: query)
                redactions += Self.markerCount(redacted) - Self.markerCount(query)
                target = String(target[...q]) + redacted
            }
            request = redact(request, &redactions)
            response = redact(response, &redactions)
        }
        return RecordedExchange(
            timeNanos: c.timeNanos, traceID: c.traceID, spanID: c.spanID, service: c.service, listener: c.listener,
            source: c.source, method: c.method, target: target, request: request, status: c.status, response: response,
            durationNanos: c.durationNanos, redactions: redactions)
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

    func redact(_ m: RecordedExchange.Message, _ count: inout Int) -> RecordedExchange.Message {
        var out = m
        let before = m.headers
        out.headers = redactor.redact(headers: m.headers)
        count += zip(before, out.headers).filter { $0.0.value != $0.1.value }.count
        guard !m.body.isEmpty else { return out }
        let contentType = m.headers.first { $0.name.lowercased() == "content-type" }?.value.lowercased() ?? ""
        if contentType.hasPrefix("application/x-www-form-urlencoded"), let text = String(validating: m.body, as: UTF8.self) {
            let redacted = redactor.redact(query: text)
            let n = Self.markerCount(redacted) - Self.markerCount(text)
            if n > 0 {
                out.body = Array(redacted.utf8)
                count += n
            }
            return out
        }
        if !m.truncated, let result = redactor.redact(jsonBody: m.body) {
            out.body = result.body
            count += result.redacted
            return out
        }
        // Not JSON as a whole — a truncated document, JSON lines, or JSON inside text: every
        // `"field": value` of a secret field is still found and replaced.
        let scanned = redactor.redact(jsonText: m.body)
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
