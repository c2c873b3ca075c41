/// Formats lines for the terminal: `HH:MM:SS users.1  | text`, prefix padded to the widest
/// instance id and colored per service (foreman/overmind style).
public struct LogFormatter: Sendable {
    public var prefixWidth: Int
    public var useColor: Bool
    public var timestamps: Bool
    /// Offset of local time from UTC in seconds, for timestamps.
    public var utcOffset: Int
    private var colors: [String: String]

    static let palette = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"]

    public init(instances: [String], services: [String], useColor: Bool, timestamps: Bool, utcOffset: Int = 0) {
        prefixWidth = max("devmesh".count, instances.map(\.count).max() ?? 0)
        self.useColor = useColor
        self.timestamps = timestamps
        self.utcOffset = utcOffset
        var colors: [String: String] = [:]
        for (i, s) in services.enumerated() { colors[s] = Self.palette[i % Self.palette.count] }
        self.colors = colors
    }

    public func format(_ line: LogLine) -> String {
        let padded = line.instance + String(repeating: " ", count: max(0, prefixWidth - line.instance.count))
        var prefix = "\(padded) |"
        if timestamps { prefix = "\(Self.clock(line.timestamp + Double(utcOffset))) \(prefix)" }
        var text = line.text
        if useColor {
            let color: String
            if line.stream == .devmesh {
                color = "1"
                switch line.severity {
                case .error: text = "\u{1B}[1;31m\(text)\u{1B}[0m"
                case .warning: text = "\u{1B}[33m\(text)\u{1B}[0m"
                case nil: break
                }
            } else {
                color = colors[line.service] ?? "0"
            }
            prefix = "\u{1B}[\(color)m\(prefix)\u{1B}[0m"
        } else if line.stream == .devmesh, let severity = line.severity {
            text = "\(severity): \(text)"
        }
        return "\(prefix) \(text)"
    }

    /// `HH:MM:SS.mmm` of a Unix time already shifted to local time.
    public static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.down))
        let s = ((total % 86_400) + 86_400) % 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = Int((seconds - seconds.rounded(.down)) * 1000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60)).\(msText)"
    }
}
