import DevMeshCore
import DevMeshHTTP1
import Foundation

/// Finishes a capture into what is stored (`ExchangeFinishing`, run on the writer thread):
/// framing removed, gzip undone, and — unless the route or service opted out — every credential
/// header, secret query parameter and secret body field replaced by the redactor's marker.
public struct RecordingFinisher: ExchangeFinishing {
    public let redactor: Redactor
    public let maxBody: Int
    /// Secret values of the stack, whatever field they turn up in: the credentials ambassadors
    /// inject (an external may echo one, and a service may pass that answer on to the gateway).
    public var knownSecrets: [String] = []

    public init(redactor: Redactor, maxBody: Int = RecordingConfig.defaultMaxBody, knownSecrets: [String] = []) {
        self.redactor = redactor
        self.maxBody = maxBody
        self.knownSecrets = knownSecrets
    }

    public func redact(target: String) -> String {
        guard let q = target.firstIndex(of: "?") else { return target }
        return String(target[...q]) + redactor.redact(query: String(target[target.index(after: q)...]))
    }

    public func finish(_ c: CapturedExchange) -> RecordedExchange {
        var redactions = 0
        var target = c.target
        var request = message(c.request, redacting: c.redact)
        var response = message(c.response, redacting: c.redact)
        if c.redact {
            var secrets = SecretValues()
            secrets.add(c.knownSecrets + knownSecrets)
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
            durationNanos: c.durationNanos, redactions: redactions, redacted: c.redact)
    }

    /// An exchange from outside devmesh (a HAR file) redacted like a recording before anything
    /// shows or saves it.
    public func finish(recorded e: RecordedExchange) -> RecordedExchange {
        func side(_ m: RecordedExchange.Message) -> CapturedExchange.Side {
            CapturedExchange.Side(headers: m.headers, wire: m.body, wireSize: m.size)
        }
        var out = finish(CapturedExchange(
            timeNanos: e.timeNanos, traceID: e.traceID, spanID: e.spanID, service: e.service, listener: e.listener, source: e.source,
            method: e.method, target: e.target, request: side(e.request), status: e.status, response: side(e.response),
            durationNanos: e.durationNanos, redact: true))
        out.id = e.id
        return out
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

    /// Set on a recording whose body is not stored because it is still compressed (cut, or an
    /// encoding devmesh does not decode) and so could not be redacted.
    public static let notStoredHeader = "X-Devmesh-Body-Not-Stored"

    func message(_ side: CapturedExchange.Side, redacting: Bool) -> RecordedExchange.Message {
        var body = side.chunked ? ChunkedDecoding.decode(side.wire) : side.wire
        var size = side.chunked && !side.truncated ? body.count : side.wireSize
        var headers = side.headers
        let decoded = BodyDecoding.decode(headers: headers, body: body, complete: !side.truncated, limit: maxBody)
        if let full = decoded.size {
            headers = decoded.headers
            body = decoded.body
            size = full
        }
        // Compressed bytes cannot be searched for secrets, and anyone can inflate them: not kept.
        if redacting, !body.isEmpty, let encoding = headers.first(where: { $0.name.lowercased() == "content-encoding" })?.value,
           encoding.trimmingCharacters(in: .whitespaces).lowercased() != "identity" {
            headers.append((Self.notStoredHeader, "\(encoding): not decoded, so not redactable"))
            size = max(size, body.count, 1)
            body = []
        }
        return RecordedExchange.Message(headers: headers, body: body, size: max(size, body.count))
    }

    func redact(_ m: RecordedExchange.Message, _ count: inout Int, _ secrets: inout SecretValues) -> RecordedExchange.Message {
        var found: [String] = []
        var out = redactFields(m, &count, &found)
        secrets.add(found)
        out.size = Self.size(after: out.body, before: m)
        return out
    }

    private func redactFields(_ m: RecordedExchange.Message, _ count: inout Int, _ found: inout [String]) -> RecordedExchange.Message {
        var out = m
        out.headers = redactor.redact(headers: m.headers, secrets: &found)
        count += zip(m.headers, out.headers).filter { $0.0.value != $0.1.value }.count
        guard !m.body.isEmpty else { return out }
        let contentType = m.headers.first { $0.name.lowercased() == "content-type" }?.value.lowercased() ?? ""
        if contentType.hasPrefix("application/x-www-form-urlencoded"), let (text, tail) = Self.utf8(m.body) {
            let redacted = redactor.redact(form: text, secrets: &found)
            let n = Self.markerCount(redacted) - Self.markerCount(text)
            if n > 0 {
                out.body = Array(redacted.utf8) + tail
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

    /// A body's full size once its kept bytes were rewritten (markers are not as long as what
    /// they replace): complete stays complete, truncated stays truncated.
    static func size(after body: [UInt8], before m: RecordedExchange.Message) -> Int {
        m.truncated ? max(m.size + body.count - m.body.count, body.count + 1) : body.count
    }

    /// The bytes as text, allowing a cut multi-byte character at the end (a truncated body): the
    /// text and the bytes of the cut character.
    static func utf8(_ bytes: [UInt8]) -> (String, [UInt8])? {
        for cut in 0...min(3, bytes.count) {
            if let text = String(validating: bytes.dropLast(cut), as: UTF8.self) { return (text, Array(bytes.suffix(cut))) }
        }
        return nil
    }

    static func markerCount(_ text: String) -> Int {
        text.components(separatedBy: "[redacted:").count - 1
    }
}
