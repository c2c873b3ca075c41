import DevMeshCore
import Foundation

/// Attributes as the store writes them: each value tagged with its OpenTelemetry type
/// (`{"i":200}`, `{"d":1}`, `{"s":"GET"}`…), so that a double that happens to be whole comes
/// back a double, as the app sent it (plain JSON cannot tell `1.0` from `1`).
struct TypedAttribute: Codable {
    var value: AttributeValue

    init(_ value: AttributeValue) { self.value = value }

    enum Key: String, CodingKey { case s, b, i, d, a, m, x }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch value {
        case .string(let s): try c.encode(s, forKey: .s)
        case .bool(let b): try c.encode(b, forKey: .b)
        case .int(let i): try c.encode(i, forKey: .i)
        case .double(let d): try c.encode(d.isFinite ? d : 0, forKey: .d)
        case .array(let a): try c.encode(a.map(TypedAttribute.init), forKey: .a)
        case .map(let m): try c.encode(m.mapValues(TypedAttribute.init), forKey: .m)
        case .bytes(let b): try c.encode(Data(b).base64EncodedString(), forKey: .x)
        }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let s = try c.decodeIfPresent(String.self, forKey: .s) {
            value = .string(s)
        } else if let b = try c.decodeIfPresent(Bool.self, forKey: .b) {
            value = .bool(b)
        } else if let i = try c.decodeIfPresent(Int64.self, forKey: .i) {
            value = .int(i)
        } else if let d = try c.decodeIfPresent(Double.self, forKey: .d) {
            value = .double(d)
        } else if let a = try c.decodeIfPresent([TypedAttribute].self, forKey: .a) {
            value = .array(a.map(\.value))
        } else if let m = try c.decodeIfPresent([String: TypedAttribute].self, forKey: .m) {
            value = .map(m.mapValues(\.value))
        } else if let x = try c.decodeIfPresent(String.self, forKey: .x) {
            value = .bytes(Array(Data(base64Encoded: x) ?? Data()))
        } else {
            value = .string("")
        }
    }

    static func encode(_ attributes: [String: AttributeValue], _ encoder: JSONEncoder) -> String? {
        (try? encoder.encode(attributes.mapValues(TypedAttribute.init))).map { String(decoding: $0, as: UTF8.self) }
    }

    static func decode(_ text: String?, _ decoder: JSONDecoder) -> [String: AttributeValue] {
        guard let text, let typed = try? decoder.decode([String: TypedAttribute].self, from: Data(text.utf8)) else { return [:] }
        return typed.mapValues(\.value)
    }
}

/// A span event as stored (typed attributes).
struct StoredEvent: Codable {
    var name: String
    var timeNanos: UInt64
    var attributes: [String: TypedAttribute]

    init(_ event: SpanEvent) {
        name = event.name
        timeNanos = event.timeNanos
        attributes = event.attributes.mapValues(TypedAttribute.init)
    }

    var event: SpanEvent { SpanEvent(name: name, timeNanos: timeNanos, attributes: attributes.mapValues(\.value)) }
}
