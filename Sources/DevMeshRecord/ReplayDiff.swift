import DevMeshCore
import Foundation

/// What a replay got back, read up to the recording limit (`size` beyond it: truncated).
public struct ReplayedResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var size: Int
    public var durationMillis: Double

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8], size: Int? = nil, durationMillis: Double = 0) {
        self.status = status
        self.headers = headers
        self.body = body
        self.size = size ?? body.count
        self.durationMillis = durationMillis
    }

    public var message: RecordedExchange.Message { .init(headers: headers, body: body, size: size) }
}

/// How a replayed answer compares with the recorded one.
public struct DiffOptions: Sendable {
    /// Response headers that differ on every answer: not compared, and named in the output.
    public static let defaultIgnoredHeaders: [String] = [
        "date", "server", "content-length", "transfer-encoding", "connection", "keep-alive", "age", "expires",
        "set-cookie", "via", "x-request-id", "request-id", "x-correlation-id", "traceparent", "tracestate",
        "x-envoy-upstream-service-time", "alt-svc", "report-to", "nel", "etag", "last-modified",
        // The gateway's own, which change with time and load, not with the service's answer.
        "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after", "x-devmesh-cache", "x-devmesh-cache-detail",
        RecordingFinisher.notStoredHeader.lowercased(),
    ]

    public var ignoredHeaders: [String]
    /// Beyond the defaults (config `replay.ignore_headers`, `--ignore-header`, a suite's).
    public var extraIgnoredHeaders: [String]
    public var rules: [JSONDiff.IgnoreRule]

    public init(extraIgnoredHeaders: [String] = [], rules: [JSONDiff.IgnoreRule] = []) {
        ignoredHeaders = Self.defaultIgnoredHeaders
        self.extraIgnoredHeaders = extraIgnoredHeaders.map { $0.lowercased() }
        self.rules = rules
    }
}

/// The difference between a recorded and a replayed answer: status, headers (minus the ignore
/// list, which the result names), body — JSON structurally with paths, text by line, bytes by
/// offset. A truncated body is compared only as far as it was recorded, and says so.
public struct ReplayDiff: Codable, Sendable, Equatable {
    public struct Side: Codable, Sendable, Equatable {
        public var status: Int?
        public var headers: [[String]]
        public var body: RecordedBodyJSON
        public var durationMillis: Double?
        public var traceID: String?

        enum CodingKeys: String, CodingKey {
            case status, headers, body
            case durationMillis = "duration_ms", traceID = "trace_id"
        }
    }

    public struct HeaderChange: Codable, Sendable, Equatable {
        public var name: String
        public var before: String?
        public var after: String?

        init(name: String, before: String?, after: String?) {
            self.name = name
            self.before = before
            self.after = after
        }

        enum CodingKeys: String, CodingKey { case name, before, after, text }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            before = try c.decodeIfPresent(String.self, forKey: .before)
            after = try c.decodeIfPresent(String.self, forKey: .after)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encodeIfPresent(before, forKey: .before)
            try c.encodeIfPresent(after, forKey: .after)
            try c.encode(text, forKey: .text)
        }

        public var text: String {
            switch (before, after) {
            case (nil, let a?): return "header \(name): added \(a)"
            case (let b?, nil): return "header \(name): removed (was \(b))"
            default: return "header \(name): \(before ?? "") → \(after ?? "")"
            }
        }
    }

    public struct BodyChange: Codable, Sendable, Equatable {
        public var path: String
        public var kind: String
        public var before: String?
        public var after: String?
        public var text: String
    }

    public struct Suppressed: Codable, Sendable, Equatable {
        public var rule: String
        public var count: Int
    }

    public struct Body: Codable, Sendable, Equatable {
        /// `json`, `text`, `binary` or `empty`.
        public var kind: String
        public var equal: Bool
        public var changes: [BodyChange]
        public var suppressed: [Suppressed]
        /// Why part of the body was not compared (truncation), or other caveats.
        public var note: String?
    }

    public var id: Int64?
    public var name: String?
    public var target: String?
    public var equal: Bool
    public var recorded: Side
    public var replayed: Side
    public var statusChanged: Bool
    public var headerChanges: [HeaderChange]
    /// Headers present but not compared (on an ignore list, or redacted), so the output says what was skipped.
    public var ignoredHeaders: [String]
    public var body: Body
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case id, name, target, equal, recorded, replayed, body, warnings
        case statusChanged = "status_changed", headerChanges = "header_changes", ignoredHeaders = "ignored_headers"
    }

    /// Every difference as one line each (what the CLI prints).
    public var lines: [String] {
        var out: [String] = []
        if statusChanged { out.append("status: \(recorded.status.map(String.init) ?? "none") → \(replayed.status.map(String.init) ?? "none")") }
        out += headerChanges.map(\.text)
        out += body.changes.map(\.text)
        return out
    }

    /// `redaction`: when set, the replayed answer is redacted like the recording before comparing.
    public static func compare(recordedStatus: Int?, recorded: RecordedExchange.Message, replayed: ReplayedResponse,
                               options: DiffOptions = DiffOptions(), redaction: (RecordingFinisher, [String])? = nil) -> ReplayDiff {
        let replayedMessage = replayed.message
        // Replayed answers get the same decoding as recorded ones (gzip undone), so both compare alike.
        var replayedHeaders = replayed.headers
        var replayedBody = replayed.body
        var replayedSize = replayed.size
        let decoded = BodyDecoding.decode(headers: replayed.headers, body: replayed.body, complete: !replayedMessage.truncated,
                                          limit: max(recorded.body.count, replayed.body.count, 1 << 20))
        if let size = decoded.size {
            replayedHeaders = decoded.headers
            replayedBody = decoded.body
            replayedSize = size
        }
        var after = RecordedExchange.Message(headers: replayedHeaders, body: replayedBody, size: replayedSize)
        if let (finisher, known) = redaction { after = finisher.redactReplayed(after, known: known) }

        // Headers by lower-cased name, repeated ones joined.
        func fields(_ h: [(name: String, value: String)]) -> [String: String] {
            var out: [String: String] = [:]
            for f in h { out[f.name.lowercased(), default: ""] += (out[f.name.lowercased()] == nil ? "" : ", ") + f.value }
            return out
        }
        let a = fields(recorded.headers), b = fields(after.headers)
        let ignored = Set(options.ignoredHeaders + options.extraIgnoredHeaders)
        var changes: [HeaderChange] = []
        var skipped: Set<String> = []
        for name in Set(a.keys).union(b.keys).sorted() {
            if ignored.contains(name) || a[name]?.contains("[redacted:") == true {
                skipped.insert(name)
            } else if a[name] != b[name] {
                changes.append(HeaderChange(name: name, before: a[name], after: b[name]))
            }
        }
        let body = compareBodies(recorded, after, rules: options.rules)
        let statusChanged = recordedStatus != replayed.status
        return ReplayDiff(
            id: nil, name: nil, target: nil, equal: !statusChanged && changes.isEmpty && body.equal,
            recorded: Side(status: recordedStatus, headers: recorded.headers.map { [$0.name, $0.value] }, body: RecordedBodyJSON(recorded)),
            replayed: Side(status: replayed.status, headers: after.headers.map { [$0.name, $0.value] }, body: RecordedBodyJSON(after),
                           durationMillis: replayed.durationMillis),
            statusChanged: statusChanged, headerChanges: changes, ignoredHeaders: skipped.sorted(), body: body, warnings: [])
    }

    /// No answer came (unreachable, refused, timed out): one difference that says why, and
    /// nothing compared against an empty answer.
    public static func unanswered(recordedStatus: Int?, recorded: RecordedExchange.Message, rules: [JSONDiff.IgnoreRule],
                                  reason: String) -> ReplayDiff {
        ReplayDiff(
            id: nil, name: nil, target: nil, equal: false,
            recorded: Side(status: recordedStatus, headers: recorded.headers.map { [$0.name, $0.value] }, body: RecordedBodyJSON(recorded)),
            replayed: Side(status: nil, headers: [], body: RecordedBodyJSON(RecordedExchange.Message())),
            statusChanged: true, headerChanges: [], ignoredHeaders: [],
            body: Body(kind: "empty", equal: false, changes: [], suppressed: rules.map { Suppressed(rule: $0.text, count: 0) },
                       note: "not compared: no answer"),
            warnings: [reason])
    }

    static func compareBodies(_ a: RecordedExchange.Message, _ b: RecordedExchange.Message, rules: [JSONDiff.IgnoreRule]) -> Body {
        let suppressedNone = rules.map { Suppressed(rule: $0.text, count: 0) }
        if a.body.isEmpty, b.body.isEmpty, a.size == 0, b.size == 0 {
            return Body(kind: "empty", equal: true, changes: [], suppressed: suppressedNone, note: nil)
        }
        // A cut body is compared only as far as both were kept: never as if it were complete.
        if a.truncated || b.truncated {
            let n = min(a.body.count, b.body.count)
            var note = a.truncated
                ? "the recorded body was truncated (\(a.body.count) of \(a.size) bytes kept): only the first \(n) bytes are compared"
                : "the replayed body was longer than the recording limit (\(b.body.count) of \(b.size) bytes read): only the first \(n) bytes are compared"
            var bodyChanges: [BodyChange] = []
            if let at = firstDifference(Array(a.body.prefix(n)), Array(b.body.prefix(n))) {
                bodyChanges.append(BodyChange(path: "bytes", kind: "changed", before: nil, after: nil,
                                              text: "body differs at byte \(at) (within the compared \(n) bytes)"))
            } else if !a.truncated, b.size != a.size {
                bodyChanges.append(BodyChange(path: "bytes", kind: "changed", before: String(a.size), after: String(b.size),
                                              text: "body size: \(a.size) → \(b.size) bytes"))
            } else if a.truncated, b.size < a.body.count {
                bodyChanges.append(BodyChange(path: "bytes", kind: "changed", before: String(a.size), after: String(b.size),
                                              text: "body size: \(a.size) → \(b.size) bytes"))
            }
            if a.truncated, b.size != a.size, bodyChanges.isEmpty {
                note += "; sizes differ (\(a.size) → \(b.size) bytes)"
                bodyChanges.append(BodyChange(path: "bytes", kind: "changed", before: String(a.size), after: String(b.size),
                                              text: "body size: \(a.size) → \(b.size) bytes"))
            }
            return Body(kind: kind(a.body), equal: bodyChanges.isEmpty, changes: bodyChanges, suppressed: suppressedNone, note: note)
        }
        if let x = JSONValue.parse(a.body), let y = JSONValue.parse(b.body) {
            let diff = JSONDiff.compare(x, y, ignoring: rules)
            var changes = diff.changes.map {
                BodyChange(path: $0.path, kind: $0.kind.rawValue, before: $0.before?.text, after: $0.after?.text, text: $0.description)
            }
            var note: String?
            if changes.count >= JSONDiff.maxChanges {
                note = "more than \(JSONDiff.maxChanges) differences: the first \(JSONDiff.maxChanges) are listed"
                changes = Array(changes.prefix(JSONDiff.maxChanges))
            }
            return Body(kind: "json", equal: diff.isEmpty, changes: changes,
                        suppressed: diff.suppressed.map { Suppressed(rule: $0.rule, count: $0.count) }, note: note)
        }
        if a.body == b.body {
            return Body(kind: kind(a.body), equal: true, changes: [], suppressed: suppressedNone, note: nil)
        }
        if let x = String(validating: a.body, as: UTF8.self), let y = String(validating: b.body, as: UTF8.self) {
            let xs = x.split(separator: "\n", omittingEmptySubsequences: false), ys = y.split(separator: "\n", omittingEmptySubsequences: false)
            let line = firstDifference(xs, ys) ?? min(xs.count, ys.count)
            let before = line < xs.count ? String(xs[line].prefix(200)) : nil
            let after = line < ys.count ? String(ys[line].prefix(200)) : nil
            let text = "line \(line + 1): \(before.map { "\"\($0)\"" } ?? "(none)") → \(after.map { "\"\($0)\"" } ?? "(none)")"
            return Body(kind: "text", equal: false, changes: [BodyChange(path: "line \(line + 1)", kind: "changed", before: before, after: after, text: text)],
                        suppressed: suppressedNone, note: nil)
        }
        let at = firstDifference(a.body, b.body) ?? min(a.body.count, b.body.count)
        return Body(kind: "binary", equal: false,
                    changes: [BodyChange(path: "bytes", kind: "changed", before: String(a.body.count), after: String(b.body.count),
                                         text: "bytes differ from byte \(at) (\(a.body.count) → \(b.body.count) bytes)")],
                    suppressed: suppressedNone, note: nil)
    }

    /// The first index where the two differ within their common length.
    static func firstDifference<T: Equatable>(_ a: [T], _ b: [T]) -> Int? {
        for i in 0..<min(a.count, b.count) where a[i] != b[i] { return i }
        return nil
    }

    static func kind(_ body: [UInt8]) -> String {
        if body.isEmpty { return "empty" }
        return String(validating: body, as: UTF8.self) == nil ? "binary" : "text"
    }
}
