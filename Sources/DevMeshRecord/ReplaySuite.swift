import DevMeshCore
import Foundation
import Yams

/// A replay suite: recorded requests with their expected answers, in a YAML file meant to be
/// read, reviewed and committed (`devmesh replay ID... --save`, `devmesh replay --suite`).
/// It is written from stored recordings, so it holds markers where secrets were, never secrets.
public struct ReplaySuite: Sendable {
    public struct Case: Sendable {
        public var name: String
        /// The recording it came from (provenance only).
        public var recording: Int64?
        /// Where it was recorded: `devmesh-gateway` or a service (the default target).
        public var service: String
        public var exchange: RecordedExchange
        /// JSON ignore rules for this case only.
        public var ignore: [String]

        public init(name: String, recording: Int64? = nil, service: String, exchange: RecordedExchange, ignore: [String] = []) {
            self.name = name
            self.recording = recording
            self.service = service
            self.exchange = exchange
            self.ignore = ignore
        }
    }

    public var name: String?
    /// `gateway`, a service name, or a URL: where the cases are sent unless the command says.
    public var target: String?
    public var ignore: [String]
    public var ignoreHeaders: [String]
    public var cases: [Case]

    public init(name: String? = nil, target: String? = nil, ignore: [String] = [], ignoreHeaders: [String] = [], cases: [Case] = []) {
        self.name = name
        self.target = target
        self.ignore = ignore
        self.ignoreHeaders = ignoreHeaders
        self.cases = cases
    }

    /// A suite from recordings (already redacted when stored).
    public init(recordings: [RecordedExchange], name: String? = nil) {
        self.init(name: name)
        cases = recordings.map { e in
            let path = e.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? e.target
            return Case(name: "\(e.method) \(path)", recording: e.id, service: e.service, exchange: e)
        }
    }

    // MARK: - Reading

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public static func parse(_ text: String, file: String) throws -> ReplaySuite {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw Invalid(description: "\(file): not valid YAML: \(error)")
        }
        guard let top = node?.mapping else { throw Invalid(description: "\(file): a suite is a mapping with `cases:`") }
        func at(_ n: Node) -> String { n.mark.map { "\(file):\($0.line):\($0.column)" } ?? file }
        func strings(_ n: Node?, _ what: String) throws -> [String] {
            guard let n else { return [] }
            guard let seq = n.sequence else { throw Invalid(description: "\(at(n)): `\(what)` must be a list") }
            return try seq.map { item in
                guard let s = item.string else { throw Invalid(description: "\(at(item)): `\(what)` holds text items") }
                return s
            }
        }
        let known: Set<String> = ["name", "target", "ignore", "ignore_headers", "cases"]
        for (k, _) in top where !known.contains(k.string ?? "") {
            throw Invalid(description: "\(at(k)): unknown key `\(k.string ?? "?")` in a suite (known: \(known.sorted().joined(separator: ", ")))")
        }
        var suite = ReplaySuite(name: top["name"]?.string, target: top["target"]?.string,
                                ignore: try strings(top["ignore"], "ignore"), ignoreHeaders: try strings(top["ignore_headers"], "ignore_headers"))
        guard let cases = top["cases"]?.sequence else { throw Invalid(description: "\(file): a suite needs `cases:`, a list") }
        for item in cases {
            guard let c = item.mapping else { throw Invalid(description: "\(at(item)): a case is a mapping with `request:` and `expect:`") }
            let caseKeys: Set<String> = ["name", "recording", "service", "request", "expect", "ignore", "redacted"]
            for (k, _) in c where !caseKeys.contains(k.string ?? "") {
                throw Invalid(description: "\(at(k)): unknown key `\(k.string ?? "?")` in a case (known: \(caseKeys.sorted().joined(separator: ", ")))")
            }
            guard let request = c["request"]?.mapping else { throw Invalid(description: "\(at(item)): the case has no `request:` mapping") }
            guard let method = request["method"]?.string, let target = request["target"]?.string, target.hasPrefix("/") else {
                throw Invalid(description: "\(at(item)): `request` needs `method` and `target` (a path starting with `/`)")
            }
            let expect = c["expect"]?.mapping
            var status: Int?
            if let s = expect?["status"] {
                guard let v = s.int, (100...599).contains(v) else { throw Invalid(description: "\(at(s)): `expect.status` is an HTTP status (100–599)") }
                status = v
            }
            let requestMessage = try message(request, at: at)
            let responseMessage = try expect.map { try message($0, at: at) } ?? RecordedExchange.Message()
            let service = c["service"]?.string ?? "devmesh-gateway"
            let exchange = RecordedExchange(
                id: c["recording"]?.int.map(Int64.init), timeNanos: 0, traceID: "", spanID: "", service: service,
                listener: service == "devmesh-gateway" ? "gateway" : "inbound", method: method, target: target,
                request: requestMessage, status: status, response: responseMessage, durationNanos: 0,
                redacted: c["redacted"]?.bool ?? true)
            suite.cases.append(Case(name: c["name"]?.string ?? "\(method) \(target)", recording: exchange.id, service: service,
                                    exchange: exchange, ignore: try strings(c["ignore"], "ignore")))
        }
        return suite
    }

    static func message(_ m: Node.Mapping, at: (Node) -> String) throws -> RecordedExchange.Message {
        var headers: [(name: String, value: String)] = []
        if let h = m["headers"] {
            guard let pairs = h.mapping else { throw Invalid(description: "\(at(h)): `headers` is a mapping of names to values") }
            for (k, v) in pairs {
                // A repeated field is a list of values.
                if let list = v.sequence {
                    for item in list { headers.append((k.string ?? "", item.string ?? "")) }
                } else {
                    headers.append((k.string ?? "", v.string ?? ""))
                }
            }
        }
        var body: [UInt8] = []
        if let text = m["body"]?.string {
            body = Array(text.utf8)
        } else if let b64 = m["body_base64"] {
            guard let bytes = b64.string.flatMap(Base64.decode) else { throw Invalid(description: "\(at(b64)): `body_base64` is not base64") }
            body = bytes
        }
        var size = body.count
        if let s = m["body_size"] {
            guard let v = s.int, v >= body.count else { throw Invalid(description: "\(at(s)): `body_size` is the whole body's length (≥ the bytes given)") }
            size = v
        }
        return RecordedExchange.Message(headers: headers, body: body, size: size)
    }

    // MARK: - Writing

    /// The suite as YAML: bodies as readable blocks (JSON pretty-printed with sorted keys).
    public func yaml() throws -> String {
        func s(_ text: String, _ style: Node.Scalar.Style = .any) -> Node { .scalar(.init(text, .implicit, style)) }
        func str(_ text: String) -> Node {
            // Keep text looking like text: a YAML reader must not take `200`, `true` or `~` for other types.
            .scalar(.init(text, Tag(.str), text.contains("\n") ? .literal : .any))
        }
        func message(_ m: RecordedExchange.Message, pretty: Bool, dropped: Set<String>) -> [(Node, Node)] {
            var pairs: [(Node, Node)] = []
            var grouped: [(String, [String])] = []
            for f in m.headers where !dropped.contains(f.name.lowercased()) {
                if let i = grouped.firstIndex(where: { $0.0.lowercased() == f.name.lowercased() }) {
                    grouped[i].1.append(f.value)
                } else {
                    grouped.append((f.name, [f.value]))
                }
            }
            if !grouped.isEmpty {
                pairs.append((s("headers"), .mapping(.init(grouped.map { name, values in
                    (str(name), values.count == 1 ? str(values[0]) : .sequence(.init(values.map(str), .implicit, .block)))
                }, .implicit, .block))))
            }
            if !m.body.isEmpty {
                if let text = Self.readable(m.body, pretty: pretty && !m.truncated) {
                    pairs.append((s("body"), str(text)))
                } else {
                    pairs.append((s("body_base64"), str(Base64.encode(m.body))))
                }
            }
            if m.truncated { pairs.append((s("body_size"), s(String(m.size)))) }
            return pairs
        }
        var top: [(Node, Node)] = []
        if let name { top.append((s("name"), str(name))) }
        if let target { top.append((s("target"), str(target))) }
        if !ignore.isEmpty { top.append((s("ignore"), .sequence(.init(ignore.map(str), .implicit, .block)))) }
        if !ignoreHeaders.isEmpty { top.append((s("ignore_headers"), .sequence(.init(ignoreHeaders.map(str), .implicit, .block)))) }
        let responseDropped = Set(DiffOptions.defaultIgnoredHeaders)
        let requestDropped = ReplayRequest.dropped
        top.append((s("cases"), .sequence(.init(cases.map { c in
            var pairs: [(Node, Node)] = [(s("name"), str(c.name))]
            if let id = c.recording { pairs.append((s("recording"), s(String(id)))) }
            pairs.append((s("service"), str(c.service)))
            // Recorded with `redact: false`: the replayed answer is compared unredacted too.
            if !c.exchange.redacted { pairs.append((s("redacted"), s("false"))) }
            var request: [(Node, Node)] = [(s("method"), str(c.exchange.method)), (s("target"), str(c.exchange.target))]
            request += message(c.exchange.request, pretty: false, dropped: requestDropped)
            pairs.append((s("request"), .mapping(.init(request, .implicit, .block))))
            var expect: [(Node, Node)] = []
            if let status = c.exchange.status { expect.append((s("status"), s(String(status)))) }
            expect += message(c.exchange.response, pretty: true, dropped: responseDropped)
            pairs.append((s("expect"), .mapping(.init(expect, .implicit, .block))))
            if !c.ignore.isEmpty { pairs.append((s("ignore"), .sequence(.init(c.ignore.map(str), .implicit, .block)))) }
            return .mapping(.init(pairs, .implicit, .block))
        }, .implicit, .block))))
        let header = """
            # devmesh replay suite: `devmesh replay --suite FILE` sends every request and exits 1 on any difference.
            # Written from recordings, which are redacted: `[redacted:…]` marks a secret that was never stored.
            # Supply fresh credentials with --bearer/--header or `replay.auth` in devmesh.yaml.

            """
        return header + (try Yams.serialize(node: .mapping(.init(top, .implicit, .block)), width: -1, allowUnicode: true))
    }

    /// Text for a YAML block, or nil for bytes a block cannot hold exactly.
    static func readable(_ body: [UInt8], pretty: Bool) -> String? {
        guard let text = String(validating: body, as: UTF8.self) else { return nil }
        if pretty, let value = JSONValue.parse(body) {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            if let data = try? encoder.encode(value) { return String(decoding: data, as: UTF8.self) + "\n" }
        }
        // Control characters (other than newline) and a CR do not survive a YAML block.
        let safe = text.unicodeScalars.allSatisfy { $0 == "\n" || ($0.value >= 0x20 && $0.value != 0x7F) }
        let edges = !(text.first?.isWhitespace ?? false) || !text.contains("\n")
        return safe && edges ? text : nil
    }
}
