/// `devmesh trace ID` in the terminal: the span tree (children under their parent, by start
/// time), each with its service, name, duration and a bar placed on the trace's time line;
/// errors marked (red with color, `✗` always); then the trace's log lines.
public struct TraceWaterfall: Sendable {
    public var useColor: Bool
    /// Columns of the time line.
    public var barWidth: Int

    public init(useColor: Bool, barWidth: Int = 40) {
        self.useColor = useColor
        self.barWidth = max(10, barWidth)
    }

    public func render(_ detail: TraceDetail) -> String {
        let spans = detail.spans
        guard let first = spans.map(\.startNanos).min() else { return "trace \(detail.traceID): no spans" }
        let last = spans.map(\.endNanos).max() ?? first
        let total = max(last - first, 1)
        let ids = Set(spans.map(\.spanID))
        var children: [String: [TelemetrySpan]] = [:]
        var roots: [TelemetrySpan] = []
        for span in spans {
            if let parent = span.parentSpanID, ids.contains(parent), parent != span.spanID {
                children[parent, default: []].append(span)
            } else {
                roots.append(span)
            }
        }
        var rows: [(label: String, span: TelemetrySpan)] = []
        var seen = Set<String>()
        func walk(_ span: TelemetrySpan, prefix: String, isLast: Bool, isRoot: Bool) {
            guard seen.insert(span.spanID).inserted else { return }
            let branch = isRoot ? "" : (isLast ? "└─ " : "├─ ")
            rows.append((prefix + branch + "\(span.service) \(span.name)", span))
            let next = prefix + (isRoot ? "" : (isLast ? "   " : "│  "))
            let kids = (children[span.spanID] ?? []).sorted { ($0.startNanos, $0.spanID) < ($1.startNanos, $1.spanID) }
            for (i, kid) in kids.enumerated() { walk(kid, prefix: next, isLast: i == kids.count - 1, isRoot: false) }
        }
        for root in roots.sorted(by: { $0.startNanos < $1.startNanos }) { walk(root, prefix: "", isLast: true, isRoot: true) }

        let errors = spans.filter(\.isError).count
        let services = Set(spans.map(\.service)).sorted()
        var out = "trace \(detail.traceID) — \(spans.count) span\(spans.count == 1 ? "" : "s"), \(Self.duration(total)), \(services.joined(separator: ", "))"
        if errors > 0 { out += paint(", \(errors) error\(errors == 1 ? "" : "s")", "31") }
        out += "\n"
        let labelWidth = min(max(rows.map { $0.label.count }.max() ?? 0, 10), 70)
        for row in rows {
            var label = row.label
            if label.count > labelWidth { label = String(label.prefix(labelWidth - 1)) + "…" }
            label += String(repeating: " ", count: labelWidth - label.count)
            let startCol = Int(Double(row.span.startNanos - first) / Double(total) * Double(barWidth))
            let length = max(1, Int((Double(row.span.durationNanos) / Double(total) * Double(barWidth)).rounded()))
            let from = min(startCol, barWidth - 1)
            let bar = String(repeating: " ", count: from) + String(repeating: "█", count: min(length, barWidth - from))
            let padded = bar + String(repeating: " ", count: barWidth - from - min(length, barWidth - from))
            let status = statusText(row.span)
            let durationText = Self.duration(row.span.durationNanos)
            let line = "\(label)  \(String(repeating: " ", count: max(0, 9 - durationText.count)))\(durationText)  │\(padded)│ \(status)"
            out += (row.span.isError ? paint(line, "31") : paint(line, row.span.kind == .client ? "36" : "0")) + "\n"
        }
        if !detail.logs.isEmpty {
            out += "\nlogs (\(detail.logs.count)):\n"
            for log in detail.logs {
                let offset = Int64(bitPattern: log.timeNanos) - Int64(bitPattern: first)
                let at = offset >= 0 ? "+" + Self.duration(UInt64(offset)) : "-" + Self.duration(UInt64(-offset))
                let who = log.instance ?? log.service
                var line = "  \(at) \(who) \(log.severity.map { "\($0) " } ?? "")\(log.body)"
                if log.severity == "ERROR" || log.severity == "FATAL" { line = paint(line, "31") }
                out += line + "\n"
            }
        }
        return String(out.dropLast())
    }

    private func statusText(_ span: TelemetrySpan) -> String {
        var parts: [String] = []
        if case .int(let code)? = span.attributes["http.response.status_code"] ?? span.attributes["http.status_code"] { parts.append(String(code)) }
        if let error = span.attributes["error.type"]?.text, !parts.contains(error) { parts.append(error) }
        if let message = span.statusMessage { parts.append(message) }
        return (span.isError ? "✗ " : "") + parts.joined(separator: " ")
    }

    private func paint(_ text: String, _ code: String) -> String {
        useColor && code != "0" ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    /// `850µs`, `12.3ms`, `1.25s`.
    public static func duration(_ nanos: UInt64) -> String {
        if nanos < 1_000_000 { return "\(nanos / 1000)µs" }
        if nanos < 1_000_000_000 {
            let ms = Double(nanos) / 1e6
            return ms < 100 ? "\((ms * 10).rounded() / 10)ms" : "\(Int(ms.rounded()))ms"
        }
        return "\((Double(nanos) / 1e7).rounded() / 100)s"
    }
}
