/// Character classes of RFC 9110/9112. Bit masks and ranges rather than lookup arrays: the
/// parsers test every byte of a head, and a global array costs a lazy-initialisation check and a
/// bounds check per byte where a mask is two instructions.
enum ByteClass {
    /// tchar: the characters of a token (method, field name, transfer coding).
    @inline(__always)
    static func isToken(_ c: UInt8) -> Bool {
        inMask(c, low: 0x03FF_6CFA_0000_0000, high: 0x57FF_FFFF_C7FF_FFFE)
    }

    /// Field-value octets: VCHAR, obs-text, SP, HTAB. Everything else (NUL, CR, LF, other CTLs,
    /// DEL) is refused.
    @inline(__always)
    static func isFieldValue(_ c: UInt8) -> Bool {
        (c >= 0x20 && c != 0x7F) || c == 0x09
    }

    /// request-target octets: visible ASCII only (no spaces, no controls, no obs-text).
    @inline(__always)
    static func isTarget(_ c: UInt8) -> Bool {
        c >= 0x21 && c <= 0x7E
    }

    /// reg-name octets of a host: unreserved / pct-encoded / sub-delims.
    @inline(__always)
    static func isRegName(_ c: UInt8) -> Bool {
        inMask(c, low: 0x2BFF_7FF2_0000_0000, high: 0x47FF_FFFE_87FF_FFFE)
    }

    /// The value of a hex digit, or -1.
    @inline(__always)
    static func hexValue(_ c: UInt8) -> Int8 {
        switch c {
        case 0x30...0x39: return Int8(c - 0x30)
        case 0x41...0x46: return Int8(c - 0x41 + 10)
        case 0x61...0x66: return Int8(c - 0x61 + 10)
        default: return -1
        }
    }

    /// Bit `c` of the 128-bit set `high:low` (bytes ≥ 128 are in no set).
    @inline(__always)
    private static func inMask(_ c: UInt8, low: UInt64, high: UInt64) -> Bool {
        if c < 64 { return (low >> UInt64(c)) & 1 == 1 }
        if c < 128 { return (high >> UInt64(c - 64)) & 1 == 1 }
        return false
    }

    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let sp = UInt8(ascii: " ")
    static let htab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")
}

extension UnsafeRawBufferPointer {
    /// Case-insensitive ASCII comparison of `self[range]` with a lower-case literal.
    @inline(__always)
    func equalsLowercased(_ range: Range<Int>, _ lower: StaticString) -> Bool {
        guard range.count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        var i = 0
        for idx in range {
            var c = self[idx]
            if c >= 0x41 && c <= 0x5A { c |= 0x20 }
            if c != l[i] { return false }
            i += 1
        }
        return true
    }

    /// Exact (case-sensitive) comparison of `self[range]` with a literal.
    @inline(__always)
    func equalsExactly(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let l = literal.utf8Start
        var i = 0
        for idx in range {
            if self[idx] != l[i] { return false }
            i += 1
        }
        return true
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: self[range]), as: UTF8.self)
    }
}
