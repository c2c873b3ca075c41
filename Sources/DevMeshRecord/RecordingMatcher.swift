import DevMeshCore

/// Which recording answers a call to an external in `replay` modes (docs/externals.md): the
/// newest whose method, path, query (as a set of pairs, in any order) and configured headers and
/// JSON body fields equal the call's, compared in their redacted form — both sides went through
/// the same redactor, so equal secrets still compare equal. A miss names the closest recordings
/// and how each differs, so the fix (a new recording, a `match` rule) is obvious.
public struct RecordingMatcher: Sendable {
    public var headers: [String]
    public var bodyFields: [String]

    public init(headers: [String] = [], bodyFields: [String] = []) {
        self.headers = headers.map { $0.lowercased() }
        self.bodyFields = bodyFields
    }

    public init(_ match: ExternalConfig.Match) {
        self.init(headers: match.headers, bodyFields: match.body)
    }

    public struct Near: Sendable, Equatable {
        public var id: Int64?
        public var method: String
        public var target: String
        public var differences: [String]
    }

    public enum Outcome: Sendable {
        case match(RecordedExchange)
        /// No recording matches: the closest ones (at most three), best first.
        case miss(closest: [Near])
    }

    /// `call`: the request, redacted like a recording. `candidates`: newest first.
    public func match(_ call: RecordedExchange, among candidates: [RecordedExchange]) -> Outcome {
        var scored: [(score: Int, index: Int, near: Near)] = []
        for (index, candidate) in candidates.enumerated() {
            let (score, differences) = compare(call, candidate)
            if differences.isEmpty { return .match(candidate) }
            scored.append((score, index, Near(id: candidate.id, method: candidate.method, target: candidate.target, differences: differences)))
        }
        scored.sort { ($0.score, $0.index) < ($1.score, $1.index) }
        return .miss(closest: scored.prefix(3).map(\.near))
    }

    /// How far `recorded` is from `call` (lower is closer), and each difference in words.
    func compare(_ call: RecordedExchange, _ recorded: RecordedExchange) -> (Int, [String]) {
        var score = 0
        var out: [String] = []
        if call.method != recorded.method {
            score += 100
            out.append("method \(recorded.method), not \(call.method)")
        }
        let (callPath, callQuery) = Self.split(call.target)
        let (path, query) = Self.split(recorded.target)
        if callPath != path {
            score += 50 + Self.pathDistance(callPath, path)
            out.append("path \(path)")
        }
        if callQuery != query {
            let names = Set(callQuery.keys).union(query.keys).filter { callQuery[$0] != query[$0] }.sorted()
            score += 10 * names.count
            out.append("query " + names.map { n in "\(n)=\(query[n]?.joined(separator: ",") ?? "(none)")" }.joined(separator: " "))
        }
        for name in headers {
            let a = Self.values(call.request.headers, name), b = Self.values(recorded.request.headers, name)
            if a != b {
                score += 5
                out.append("header \(name): \(b ?? "(none)")")
            }
        }
        if !bodyFields.isEmpty {
            let a = JSONValue.parse(call.request.body), b = JSONValue.parse(recorded.request.body)
            for field in bodyFields {
                let x = a.flatMap { Self.lookup($0, field) }, y = b.flatMap { Self.lookup($0, field) }
                if x != y {
                    score += 5
                    out.append("body \(field): \(y.map { Self.shortText($0) } ?? "(none)")")
                }
            }
        }
        if out.isEmpty, recorded.status == nil {
            out.append("no answer was recorded (the external failed)")
            score += 1
        } else if out.isEmpty, recorded.response.truncated {
            out.append("its answer was cut at `recording.max_body` (\(recorded.response.body.count) of \(recorded.response.size) bytes)")
            score += 1
        }
        return (score, out)
    }

    /// The path, and each query parameter's values in order of appearance.
    static func split(_ target: String) -> (String, [String: [String]]) {
        guard let q = target.firstIndex(of: "?") else { return (target, [:]) }
        var query: [String: [String]] = [:]
        for pair in target[target.index(after: q)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            query[String(parts[0]), default: []].append(parts.count > 1 ? String(parts[1]) : "")
        }
        return (String(target[..<q]), query)
    }

    /// Segments that differ: `/v1/charges/7` is closer to `/v1/charges/8` than to `/v2/refunds`.
    static func pathDistance(_ a: String, _ b: String) -> Int {
        let x = a.split(separator: "/"), y = b.split(separator: "/")
        var d = abs(x.count - y.count)
        for (p, q) in zip(x, y) where p != q { d += 1 }
        return d
    }

    static func values(_ headers: [(name: String, value: String)], _ name: String) -> String? {
        let v = headers.filter { $0.name.lowercased() == name }.map(\.value)
        return v.isEmpty ? nil : v.joined(separator: ", ")
    }

    static func lookup(_ value: JSONValue, _ path: String) -> JSONValue? {
        var current = value
        for key in path.split(separator: ".") {
            guard case .object(let fields) = current, let next = fields[String(key)] else { return nil }
            current = next
        }
        return current
    }

    static func shortText(_ value: JSONValue) -> String {
        let text = value.text
        return text.count > 60 ? String(text.prefix(57)) + "…" : text
    }
}
