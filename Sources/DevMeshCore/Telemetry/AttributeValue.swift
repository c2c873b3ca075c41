/// An attribute value as OpenTelemetry types it (`AnyValue`): kept typed so that what an app sent
/// is what the store shows and what `otlp_export` forwards. Encodes as the plain JSON value.
public indirect enum AttributeValue: Sendable, Equatable, Hashable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case array([AttributeValue])
    case map([String: AttributeValue])
    case bytes([UInt8])

    /// The value as one line of text (for terminals and string comparisons).
    public var text: String {
        switch self {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .array(let a): return "[" + a.map(\.text).joined(separator: ",") + "]"
        case .map(let m): return "{" + m.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.text)" }.joined(separator: ",") + "}"
        case .bytes(let b): return b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        }
    }
}

extension AttributeValue: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .string("")
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([AttributeValue].self) {
            self = .array(a)
        } else {
            self = .map(try c.decode([String: AttributeValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d.isFinite ? d : 0)
        case .array(let a): try c.encode(a)
        case .map(let m): try c.encode(m)
        case .bytes: try c.encode(text)
        }
    }
}

extension AttributeValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}
