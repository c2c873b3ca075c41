/// Character classes of RFC 9110/9112, as lookup tables.
enum ByteClass {
    /// tchar: the characters of a token (method, field name, transfer coding).
    static let token: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") { t[Int(c)] = true }
        for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { t[Int(c)] = true }
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { t[Int(c)] = true }
        for c in "!#$%&'*+-.^_`|~".utf8 { t[Int(c)] = true }
        return t
    }()

    /// Field-value octets: VCHAR, obs-text, SP, HTAB. Everything else (NUL, CR, LF, other CTLs,
    /// DEL) is refused.
    static let fieldValue: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for c in 0x21...0x7E { t[c] = true }
        for c in 0x80...0xFF { t[c] = true }
        t[0x20] = true
        t[0x09] = true
        return t
    }()

    /// request-target octets: visible ASCII only (no spaces, no controls, no obs-text).
    static let target: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for c in 0x21...0x7E { t[c] = true }
        return t
    }()

    /// reg-name octets of a host: unreserved / pct-encoded / sub-delims.
    static let regName: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=".utf8 { t[Int(c)] = true }
        return t
    }()

    static let hex: [Int8] = {
        var t = [Int8](repeating: -1, count: 256)
        for (i, c) in "0123456789".utf8.enumerated() { t[Int(c)] = Int8(i) }
        for (i, c) in "abcdef".utf8.enumerated() { t[Int(c)] = Int8(10 + i) }
        for (i, c) in "ABCDEF".utf8.enumerated() { t[Int(c)] = Int8(10 + i) }
        return t
    }()

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
