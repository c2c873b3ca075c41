/// Two runs of the same route, span by span: what got slower, faster, failed, appeared or went
/// away. Spans are matched by their place in the tree — the same service and name under matched
/// parents, in start order — so that a retry or an extra call shows as an added row instead of
/// shifting every match after it.
public struct TraceComparison: Sendable, Equatable, Codable {
    public enum Change: String, Sendable, Codable {
        case same, slower, faster, status, added, removed
    }

    /// One span's side of a row.
    public struct Side: Sendable, Equatable, Codable {
        public var spanID: String
        /// From the start of its own trace.
        public var offsetNanos: UInt64
        public var durationNanos: UInt64
        public var status: SpanRecord.Status
        public var statusCode: Int?
    }

    public struct Row: Sendable, Equatable, Codable {
        public var depth: Int
        public var service: String
        public var name: String
        public var a: Side?
        public var b: Side?
        public var change: Change
        /// `b − a` duration; nil when one side is missing.
        public var deltaNanos: Int64?
    }

    /// When a duration counts as changed: by at least `ratio` (either way) and at least `floor`
    /// (a 40 µs span that takes 60 µs is noise, not news).
    public struct Thresholds: Sendable, Equatable {
        public var ratio: Double
        public var floorNanos: UInt64
        public init(ratio: Double = 1.25, floorNanos: UInt64 = 1_000_000) {
            self.ratio = ratio
            self.floorNanos = floorNanos
        }
    }

    public var a: TraceSummary
    public var b: TraceSummary
    public var rows: [Row]

    public init(_ a: TraceDetail, _ b: TraceDetail, thresholds: Thresholds = Thresholds()) {
        let treeA = SpanTree(a.spans), treeB = SpanTree(b.spans)
        self.a = TraceSummary(a)
        self.b = TraceSummary(b)
        var rows: [Row] = []
        Self.align(treeA.roots, treeB.roots, treeA, treeB, depth: 0, thresholds, into: &rows)
        self.rows = rows
    }

    /// Work left to do, in order: an explicit stack instead of recursion, so a trace nested
    /// thousands of levels deep (the store keeps up to 10,000 spans a trace) cannot overflow a
    /// thread's stack.
    enum Step {
        case align(left: [Int], right: [Int], depth: Int)
        case matched(Int, Int, depth: Int)
        case only(Int, side: Change, depth: Int)
    }

    static func align(_ left: [Int], _ right: [Int], _ ta: SpanTree, _ tb: SpanTree, depth: Int,
                      _ thresholds: Thresholds, into rows: inout [Row]) {
        var stack: [Step] = [.align(left: left, right: right, depth: depth)]
        while let step = stack.popLast() {
            switch step {
            case .align(let left, let right, let depth):
                var unmatched: [String: [Int]] = [:]
                for index in right { unmatched[tb.key(index), default: []].append(index) }
                var used = Set<Int>()
                var steps: [Step] = []
                for index in left {
                    let key = ta.key(index)
                    if var queue = unmatched[key], !queue.isEmpty {
                        let match = queue.removeFirst()
                        unmatched[key] = queue
                        used.insert(match)
                        steps.append(.matched(index, match, depth: depth))
                    } else {
                        steps.append(.only(index, side: .removed, depth: depth))
                    }
                }
                for index in right where !used.contains(index) { steps.append(.only(index, side: .added, depth: depth)) }
                stack.append(contentsOf: steps.reversed())
            case .matched(let i, let j, let depth):
                rows.append(row(ta, i, tb, j, depth: depth, thresholds))
                stack.append(.align(left: ta.children[i], right: tb.children[j], depth: depth + 1))
            case .only(let index, let side, let depth):
                // A span (and its subtree) present in one trace only.
                let tree = side == .removed ? ta : tb
                let span = tree.spans[index]
                let s = tree.side(index)
                rows.append(Row(depth: depth, service: span.service, name: span.name, a: side == .removed ? s : nil,
                                b: side == .added ? s : nil, change: side, deltaNanos: nil))
                stack.append(contentsOf: tree.children[index].reversed().map { .only($0, side: side, depth: depth + 1) })
            }
        }
    }

    static func row(_ ta: SpanTree, _ i: Int, _ tb: SpanTree, _ j: Int, depth: Int, _ t: Thresholds) -> Row {
        let sa = ta.side(i), sb = tb.side(j)
        let delta = Int64(clamping: sb.durationNanos) - Int64(clamping: sa.durationNanos)
        let change: Change
        if ta.spans[i].isErrorLike != tb.spans[j].isErrorLike || sa.statusCode != sb.statusCode {
            change = .status
        } else if delta.magnitude >= t.floorNanos, Double(sb.durationNanos) >= Double(sa.durationNanos) * t.ratio {
            change = .slower
        } else if delta.magnitude >= t.floorNanos, Double(sa.durationNanos) >= Double(sb.durationNanos) * t.ratio {
            change = .faster
        } else {
            change = .same
        }
        let span = ta.spans[i]
        return Row(depth: depth, service: span.service, name: span.name, a: sa, b: sb, change: change, deltaNanos: delta)
    }
}

/// A trace's spans as a tree: parents by id, children in start order; spans whose parent is not
/// in the trace are roots.
struct SpanTree {
    let spans: [TelemetrySpan]
    let roots: [Int]
    let children: [[Int]]
    let start: UInt64

    init(_ spans: [TelemetrySpan]) {
        let order = spans.indices.sorted { (spans[$0].startNanos, $0) < (spans[$1].startNanos, $1) }
        var byID: [String: Int] = [:]
        for i in order where byID[spans[i].spanID] == nil { byID[spans[i].spanID] = i }
        var children = Array(repeating: [Int](), count: spans.count)
        var roots: [Int] = []
        for i in order {
            if let parent = spans[i].parentSpanID, let p = byID[parent], p != i {
                children[p].append(i)
            } else {
                roots.append(i)
            }
        }
        self.spans = spans
        self.roots = roots
        self.children = children
        self.start = spans.map(\.startNanos).min() ?? 0
    }

    func key(_ i: Int) -> String { spans[i].service + "\u{1}" + spans[i].kind.rawValue + "\u{1}" + spans[i].name }

    func side(_ i: Int) -> TraceComparison.Side {
        let span = spans[i]
        return TraceComparison.Side(spanID: span.spanID, offsetNanos: span.startNanos &- start, durationNanos: span.durationNanos,
                                    status: span.status, statusCode: span.httpStatusCode)
    }
}

extension TelemetrySpan {
    /// `http.response.status_code` (or the older `http.status_code`), whichever the span carries.
    public var httpStatusCode: Int? {
        switch attributes["http.response.status_code"] ?? attributes["http.status_code"] {
        case .int(let i)?: return Int(i)
        case .string(let s)?: return Int(s)
        case .double(let d)?: return Int(exactly: d)
        default: return nil
        }
    }

    /// Failed by its status, or answered a 5xx.
    public var isErrorLike: Bool { status == .error || (httpStatusCode ?? 0) >= 500 }
}

extension TraceSummary {
    /// The summary of a trace from its spans (what the store's roll-up keeps, computed here for
    /// a trace at hand).
    public init(_ detail: TraceDetail) {
        let tree = SpanTree(detail.spans)
        let root = tree.roots.first.map { detail.spans[$0] }
        let end = detail.spans.map(\.endNanos).max() ?? tree.start
        func text(_ keys: String...) -> String? {
            for key in keys { if let v = root?.attributes[key] { return v.text } }
            return nil
        }
        self.init(traceID: detail.traceID, startNanos: tree.start, durationNanos: end &- tree.start, spanCount: detail.spans.count,
                  errorCount: detail.spans.filter(\.isErrorLike).count, rootService: root?.service ?? "",
                  rootName: root?.name ?? "", method: text("http.request.method", "http.method"),
                  path: text("url.path", "http.target", "http.route"), statusCode: root?.httpStatusCode,
                  services: Array(Set(detail.spans.map(\.service))).sorted())
    }
}
