/// One header (or trailer) field as received: the name's case is kept, the value is trimmed of
/// surrounding whitespace.
public struct HTTPField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

extension Array where Element == HTTPField {
    /// The first value of the field named `name` (ASCII case-insensitive).
    public func first(_ name: String) -> String? {
        first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// Every value of the field named `name`, in order.
    public func all(_ name: String) -> [String] {
        filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }
}

extension String {
    /// ASCII case-insensitive equality (field names and tokens are ASCII).
    public func caseInsensitiveEquals(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        // Both are native UTF-8 strings here: compare their contiguous bytes, not iterators.
        var a = self, b = other
        return a.withUTF8 { x in
            b.withUTF8 { y in
                for i in 0..<x.count {
                    let cx = x[i], cy = y[i]
                    if cx == cy { continue }
                    let lx = (cx >= 0x41 && cx <= 0x5A) ? cx | 0x20 : cx
                    let ly = (cy >= 0x41 && cy <= 0x5A) ? cy | 0x20 : cy
                    if lx != ly { return false }
                }
                return true
            }
        }
    }

    var asciiLowercased: String {
        String(decoding: utf8.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}

/// Comma-separated list elements (RFC 9110 §5.6.1), trimmed and lower-cased, empty ones dropped.
func listTokens(_ value: String) -> [String] {
    var tokens: [String] = []
    forEachListToken(value) { tokens.append($0) }
    return tokens
}

/// Calls `body` with each element of a comma-separated list (RFC 9110 §5.6.1), trimmed of OWS and
/// lower-cased, empty ones skipped. The parsers meet `Connection: keep-alive` on nearly every
/// message: this walks the bytes once and builds no arrays (short tokens are small strings,
/// which live inline).
func forEachListToken(_ value: String, _ body: (String) -> Void) {
    var value = value
    value.withUTF8 { bytes in
        let n = bytes.count
        var i = 0
        while i < n {
            var start = i
            while i < n, bytes[i] != UInt8(ascii: ",") { i += 1 }
            var end = i
            while start < end, bytes[start] == ByteClass.sp || bytes[start] == ByteClass.htab { start += 1 }
            while end > start, bytes[end - 1] == ByteClass.sp || bytes[end - 1] == ByteClass.htab { end -= 1 }
            if end > start { body(asciiLowercasedString(UnsafeBufferPointer(rebasing: bytes[start..<end]))) }
            i += 1
        }
    }
}

/// The bytes as a string, ASCII upper case lowered; copies only when there is something to lower.
private func asciiLowercasedString(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    guard bytes.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return String(decoding: bytes, as: UTF8.self) }
    return String(decoding: bytes.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }, as: UTF8.self)
}

extension StringProtocol {
    func trimmingOWS() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// How the body of a message is delimited.
public enum BodyFraming: Sendable, Equatable {
    /// No body.
    case none
    /// Exactly this many bytes.
    case length(UInt64)
    /// Chunked transfer coding (the only one devmesh accepts on requests).
    case chunked
    /// Until the connection closes (responses only).
    case untilClose
}
