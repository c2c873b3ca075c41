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
    value.split(separator: ",").map { String($0.trimmingOWS()).asciiLowercased }.filter { !$0.isEmpty }
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
