/// Removes `Transfer-Encoding: chunked` framing from recorded wire bytes. The proxy already
/// validated the framing while forwarding; here a recording may stop mid-chunk (truncated), so
/// decoding keeps what is complete and stops quietly at the end of the bytes.
public enum ChunkedDecoding {
    public static func decode(_ wire: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(wire.count)
        var i = 0
        while i < wire.count {
            // chunk-size [; extensions] CRLF
            var size = 0
            var digits = 0
            while i < wire.count, let v = hexValue(wire[i]) {
                guard size < (1 << 40) else { return out }
                size = size * 16 + v
                digits += 1
                i += 1
            }
            guard digits > 0 else { return out }
            while i < wire.count, wire[i] != UInt8(ascii: "\n") { i += 1 }
            i += 1
            if size == 0 { return out }
            let end = min(wire.count, i + size)
            if i < end { out.append(contentsOf: wire[i..<end]) }
            i = end + 2  // CRLF after the data
        }
        return out
    }

    private static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
