/// Durations written as in Go and Kubernetes: `500ms`, `2s`, `1m30s`, `1h`, and days (`7d`) for
/// retention.
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingWhitespace())
        guard !rest.isEmpty else { return nil }
        var total: Duration = .zero
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number), value.isFinite, value >= 0 else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter || $0 == "µ" }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "us", "µs": scale = 0.000_001
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86_400
            default: return nil
            }
            let seconds = value * scale
            guard seconds < 1e9 else { return nil }
            total += .nanoseconds(Int64((seconds * 1e9).rounded()))
            // The sum too: `999999999s999999999s…` must not overflow what reads it as nanoseconds.
            guard total < .seconds(1_000_000_000) else { return nil }
        }
        return total
    }

    /// The inverse of `parse`, used in messages and docs: `2s`, `1500ms`, `1m`.
    public static func format(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        if ms % 3_600_000 == 0, ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}
