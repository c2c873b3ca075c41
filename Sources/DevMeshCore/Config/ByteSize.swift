/// Sizes as people write them in config: `512MB`, `2GB`, `1GiB`, `100k`, or plain bytes.
/// KB/MB/GB are powers of 1000, KiB/MiB/GiB powers of 1024 (a bare K/M/G is taken as binary).
public enum ByteSize {
    public static func parse(_ text: String) -> Int64? {
        let t = text.trimmingWhitespace()
        let number = t.prefix { $0.isNumber || $0 == "." }
        guard !number.isEmpty, let value = Double(number), value.isFinite, value >= 0 else { return nil }
        let unit = t.dropFirst(number.count).trimmingWhitespace().lowercased()
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "kb": scale = 1e3
        case "mb": scale = 1e6
        case "gb": scale = 1e9
        case "tb": scale = 1e12
        case "k", "kib": scale = 1024
        case "m", "mib": scale = 1024 * 1024
        case "g", "gib": scale = 1024 * 1024 * 1024
        default: return nil
        }
        let bytes = value * scale
        guard bytes < 9e18 else { return nil }
        return Int64(bytes)
    }
}

/// An OTLP/HTTP collector's base URL (`telemetry.otlp_export`): devmesh posts to `/v1/traces`
/// and `/v1/logs` under it, as the OpenTelemetry SDKs do with `OTEL_EXPORTER_OTLP_ENDPOINT`.
public struct OTLPEndpoint: Sendable, Equatable {
    public var base: String

    public init?(_ url: String) {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return nil }
        let rest = url.drop { $0 != ":" }.dropFirst(3)
        guard let hostChar = rest.first, hostChar != "/", !url.contains(" ") else { return nil }
        base = url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    public var tracesURL: String { base + "/v1/traces" }
    public var logsURL: String { base + "/v1/logs" }
}
