import DevMeshCore
import JWTKit

/// Every claim of a verified token, as the policy engine reads them (`request.auth.claims[..]`).
/// Time and audience checks are done by `JWTRuleVerifier` (with Istio's leeway), so `verify` here
/// has nothing left to check.
struct TokenClaims: JWTPayload {
    var values: [String: AttributeValue]

    init(values: [String: AttributeValue]) { self.values = values }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        var values: [String: AttributeValue] = [:]
        for key in container.allKeys {
            values[key.stringValue] = try container.decode(JSONClaim.self, forKey: key).value
        }
        self.values = values
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyKey.self)
        for (key, value) in values { try container.encode(JSONClaim(value), forKey: AnyKey(key)) }
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// A JSON value of a claim. Nesting is bounded by the token's size limit.
struct JSONClaim: Codable {
    var value: AttributeValue

    init(_ value: AttributeValue) { self.value = value }

    init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
            var map: [String: AttributeValue] = [:]
            for key in keyed.allKeys { map[key.stringValue] = try keyed.decode(JSONClaim.self, forKey: key).value }
            value = .map(map)
            return
        }
        if var list = try? decoder.unkeyedContainer() {
            var items: [AttributeValue] = []
            while !list.isAtEnd { items.append(try list.decode(JSONClaim.self).value) }
            value = .array(items)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { value = .string(""); return }
        if let b = try? single.decode(Bool.self) { value = .bool(b); return }
        if let i = try? single.decode(Int64.self) { value = .int(i); return }
        if let d = try? single.decode(Double.self) {
            // `exp: 1.7e9` style numbers are still times: keep whole numbers as integers.
            value = d.rounded() == d && abs(d) < 9e15 ? .int(Int64(d)) : .double(d)
            return
        }
        value = .string(try single.decode(String.self))
    }

    func encode(to encoder: any Encoder) throws {
        var single = encoder.singleValueContainer()
        switch value {
        case .string(let s): try single.encode(s)
        case .bool(let b): try single.encode(b)
        case .int(let i): try single.encode(i)
        case .double(let d): try single.encode(d)
        case .array(let a): try single.encode(a.map(JSONClaim.init))
        case .map(let m): try single.encode(m.mapValues(JSONClaim.init))
        case .bytes(let b): try single.encode(b)
        }
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
