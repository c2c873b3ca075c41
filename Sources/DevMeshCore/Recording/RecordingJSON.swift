/// A recorded body in JSON: UTF-8 text as `text`, anything else as `base64`.
public struct RecordedBodyJSON: Codable, Sendable, Equatable {
    public var size: Int
    /// Bytes kept (less than `size` when truncated).
    public var kept: Int?
    public var truncated: Bool
    public var text: String?
    public var base64: String?

    public init(_ m: RecordedExchange.Message) {
        size = m.size
        kept = m.body.count
        truncated = m.truncated
        if let s = String(validating: m.body, as: UTF8.self) {
            text = s
        } else {
            base64 = Base64.encode(m.body)
        }
    }

    public var bytes: [UInt8] {
        if let text { return Array(text.utf8) }
        return base64.flatMap(Base64.decode) ?? []
    }
}

/// One recording in a list (no bodies): what `devmesh requests` and the Requests page show.
public struct RecordingSummary: Codable, Sendable, Equatable {
    public var id: Int64
    public var time: String
    public var timeNanos: UInt64
    public var service: String
    public var listener: String
    public var source: String?
    public var method: String
    public var target: String
    public var host: String?
    public var status: Int?
    public var durationMillis: Double
    public var traceID: String
    public var spanID: String
    public var requestSize: Int
    public var responseSize: Int
    public var requestTruncated: Bool
    public var responseTruncated: Bool
    public var redactions: Int
    public var redacted: Bool

    enum CodingKeys: String, CodingKey {
        case id, time, service, listener, source, method, target, host, status, redactions, redacted
        case timeNanos = "time_ns", durationMillis = "duration_ms", traceID = "trace_id", spanID = "span_id"
        case requestSize = "request_size", responseSize = "response_size"
        case requestTruncated = "request_truncated", responseTruncated = "response_truncated"
    }

    public init(_ e: RecordedExchange) {
        id = e.id ?? 0
        timeNanos = e.timeNanos
        time = ISOTime.format(nanos: e.timeNanos)
        service = e.service
        listener = e.listener
        source = e.source
        method = e.method
        target = e.target
        host = e.request.headers.first { $0.name.lowercased() == "host" }?.value
        status = e.status
        durationMillis = Double(e.durationNanos) / 1e6
        traceID = e.traceID
        spanID = e.spanID
        requestSize = e.request.size
        responseSize = e.response.size
        requestTruncated = e.request.truncated
        responseTruncated = e.response.truncated
        redactions = e.redactions
        redacted = e.redacted
    }
}

/// One recording with its headers and bodies (`GET /api/v1/requests/ID`, `requests --json ID`).
public struct RecordingDetail: Codable, Sendable, Equatable {
    public var summary: RecordingSummary
    public var requestHeaders: [[String]]
    public var requestBody: RecordedBodyJSON
    public var responseHeaders: [[String]]
    public var responseBody: RecordedBodyJSON

    enum CodingKeys: String, CodingKey {
        case requestHeaders = "request_headers", requestBody = "request_body"
        case responseHeaders = "response_headers", responseBody = "response_body"
    }

    public init(_ e: RecordedExchange) {
        summary = RecordingSummary(e)
        requestHeaders = e.request.headers.map { [$0.name, $0.value] }
        requestBody = RecordedBodyJSON(e.request)
        responseHeaders = e.response.headers.map { [$0.name, $0.value] }
        responseBody = RecordedBodyJSON(e.response)
    }

    /// The summary's fields and these, flat in one object.
    public init(from decoder: any Decoder) throws {
        summary = try RecordingSummary(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        requestHeaders = try c.decode([[String]].self, forKey: .requestHeaders)
        requestBody = try c.decode(RecordedBodyJSON.self, forKey: .requestBody)
        responseHeaders = try c.decode([[String]].self, forKey: .responseHeaders)
        responseBody = try c.decode(RecordedBodyJSON.self, forKey: .responseBody)
    }

    public func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(requestHeaders, forKey: .requestHeaders)
        try c.encode(requestBody, forKey: .requestBody)
        try c.encode(responseHeaders, forKey: .responseHeaders)
        try c.encode(responseBody, forKey: .responseBody)
    }

    /// Back to the model (for replays read through the API).
    public var exchange: RecordedExchange {
        let pairs: ([[String]]) -> [(name: String, value: String)] = { $0.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil } }
        return RecordedExchange(
            id: summary.id, timeNanos: summary.timeNanos, traceID: summary.traceID, spanID: summary.spanID, service: summary.service,
            listener: summary.listener, source: summary.source, method: summary.method, target: summary.target,
            request: .init(headers: pairs(requestHeaders), body: requestBody.bytes, size: requestBody.size),
            status: summary.status,
            response: .init(headers: pairs(responseHeaders), body: responseBody.bytes, size: responseBody.size),
            durationNanos: UInt64(max(0, summary.durationMillis * 1e6)), redactions: summary.redactions, redacted: summary.redacted)
    }
}
