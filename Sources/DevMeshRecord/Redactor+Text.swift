/// Redaction of JSON that does not parse as a whole: a body cut at the recording limit, JSON
/// lines, JSON inside text. The bytes are scanned for string tokens naming a secret field and
/// followed by `:`; the value after it (a string, a scalar, or a whole object/array, up to the
/// end of the bytes when cut) becomes a marker. Everything else stays byte for byte.
extension Redactor {
    public func redact(jsonText bytes: [UInt8]) -> BodyResult {
        var secrets: [String] = []
        return redact(jsonText: bytes, secrets: &secrets)
    }

    public func redact(jsonText bytes: [UInt8], secrets: inout [String]) -> BodyResult {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var count = 0
        var i = 0
        let quote = UInt8(ascii: "\"")
        while i < bytes.count {
            guard bytes[i] == quote else {
                out.append(bytes[i])
                i += 1
                continue
            }
            let end = Self.stringEnd(bytes, from: i)
            out.append(contentsOf: bytes[i..<end])
            let name = end - i >= 2 ? Self.normalised(String(decoding: bytes[(i + 1)..<(end - 1)], as: UTF8.self)) : ""
            i = end
            guard fields.contains(name) else { continue }
            var j = i
            while j < bytes.count, Self.isSpace(bytes[j]) { j += 1 }
            guard j < bytes.count, bytes[j] == UInt8(ascii: ":") else { continue }
            j += 1
            while j < bytes.count, Self.isSpace(bytes[j]) { j += 1 }
            out.append(contentsOf: bytes[i..<j])
            let valueEnd = Self.valueEnd(bytes, from: j)
            var value = bytes[j..<valueEnd]
            if value.first == quote, value.count >= 2, value.last == quote { value = value.dropFirst().dropLast() }
            let secret = String(decoding: value, as: UTF8.self)
            secrets.append(secret)
            out.append(contentsOf: Array(("\"" + marker(secret) + "\"").utf8))
            count += 1
            i = valueEnd
        }
        return BodyResult(body: count > 0 ? out : bytes, redacted: count)
    }

    /// The index after a JSON string starting at `start` (a quote), or the end of the bytes.
    static func stringEnd(_ b: [UInt8], from start: Int) -> Int {
        var k = start + 1
        while k < b.count {
            if b[k] == UInt8(ascii: "\\") { k += 2; continue }
            if b[k] == UInt8(ascii: "\"") { return k + 1 }
            k += 1
        }
        return b.count
    }

    /// The index after the JSON value starting at `start`, or the end of the bytes when it is cut.
    static func valueEnd(_ b: [UInt8], from start: Int) -> Int {
        guard start < b.count else { return start }
        switch b[start] {
        case UInt8(ascii: "\""):
            return min(stringEnd(b, from: start), b.count)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var k = start
            while k < b.count {
                switch b[k] {
                case UInt8(ascii: "\""): k = stringEnd(b, from: k); continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return k + 1 }
                default: break
                }
                k += 1
            }
            return b.count
        default:
            var k = start
            while k < b.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: "\n")].contains(b[k]), !isSpace(b[k]) { k += 1 }
            return k
        }
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
}
