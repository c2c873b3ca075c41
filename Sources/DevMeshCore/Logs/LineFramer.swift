/// Splits a byte stream into lines without ever losing or merging them: `\n` ends a line (a `\r`
/// before it is dropped), a line longer than `maxLength` is cut into pieces, and `finish()` returns
/// what is left at end of stream.
public struct LineFramer: Sendable {
    public let maxLength: Int
    private var pending: [UInt8] = []

    public init(maxLength: Int = 16 * 1024) {
        self.maxLength = maxLength
    }

    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> [String] where Bytes.Element == UInt8 {
        var lines: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                lines.append(Self.text(pending))
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
                if pending.count >= maxLength {
                    lines.append(Self.text(pending))
                    pending.removeAll(keepingCapacity: true)
                }
            }
        }
        return lines
    }

    public mutating func finish() -> String? {
        defer { pending.removeAll() }
        return pending.isEmpty ? nil : Self.text(pending)
    }

    static func text(_ bytes: [UInt8]) -> String {
        var slice = bytes[...]
        if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
        return String(decoding: slice, as: UTF8.self)
    }
}
