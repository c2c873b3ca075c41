/// W3C Trace Context (`traceparent`): version 00, 16-byte trace id, 8-byte parent id, flags.
public struct TraceContext: Sendable, Equatable {
    /// 32 lower-case hex digits, not all zero.
    public var traceID: String
    /// 16 lower-case hex digits, not all zero: the span that is the parent of the next hop.
    public var spanID: String
    /// Trace flags; bit 0 is "sampled".
    public var flags: UInt8

    public init(traceID: String, spanID: String, flags: UInt8 = 1) {
        self.traceID = traceID
        self.spanID = spanID
        self.flags = flags
    }

    /// Parses a `traceparent` value; `nil` for anything malformed (then a new trace starts).
    /// Future versions are read by their first four fields, as the spec asks. Runs once per
    /// request: it reads the bytes in place and allocates only the two id strings.
    public static func parse(_ value: String) -> TraceContext? {
        var value = value
        return value.withUTF8 { b -> TraceContext? in
            guard b.count >= 55 else { return nil }
            func isHex(_ range: Range<Int>) -> Bool {
                for i in range where !((b[i] >= 0x30 && b[i] <= 0x39) || (b[i] >= 0x61 && b[i] <= 0x66)) { return false }
                return true
            }
            func allZero(_ range: Range<Int>) -> Bool {
                for i in range where b[i] != 0x30 { return false }
                return true
            }
            guard isHex(0..<2), b[2] == 0x2D, isHex(3..<35), b[35] == 0x2D, isHex(36..<52), b[52] == 0x2D,
                  isHex(53..<55) else { return nil }
            let isV00 = b[0] == 0x30 && b[1] == 0x30
            if b[0] == 0x66 && b[1] == 0x66 { return nil }  // version ff is invalid
            if isV00, b.count != 55 { return nil }
            if !isV00, b.count > 55, b[55] != 0x2D { return nil }
            guard !allZero(3..<35), !allZero(36..<52) else { return nil }
            let trace = String(decoding: UnsafeBufferPointer(rebasing: b[3..<35]), as: UTF8.self)
            let span = String(decoding: UnsafeBufferPointer(rebasing: b[36..<52]), as: UTF8.self)
            let flags = TraceIDGenerator.hexValue(b[53]) << 4 | TraceIDGenerator.hexValue(b[54])
            return TraceContext(traceID: trace, spanID: span, flags: flags)
        }
    }

    /// The `traceparent` value for a child whose span id is `spanID`, built in one allocation.
    public func header(spanID: String) -> String {
        var trace = traceID, span = spanID
        return trace.withUTF8 { t in
            span.withUTF8 { s in
                String(unsafeUninitializedCapacity: 5 + t.count + s.count + 2) { out in
                    var i = 0
                    func put(_ byte: UInt8) { out[i] = byte; i += 1 }
                    put(0x30); put(0x30); put(0x2D)
                    for c in t { put(c) }
                    put(0x2D)
                    for c in s { put(c) }
                    put(0x2D)
                    put(TraceIDGenerator.digits[Int(flags >> 4)])
                    put(TraceIDGenerator.digits[Int(flags & 0xF)])
                    return i
                }
            }
        }
    }
}

/// Random trace and span ids (never all zero).
public struct TraceIDGenerator: Sendable {
    public init() {}

    public func traceID<G: RandomNumberGenerator>(using rng: inout G) -> String {
        var high = rng.next() as UInt64
        let low = rng.next() as UInt64
        if high == 0 && low == 0 { high = 1 }
        // One allocation per id: the digits go straight into the string's storage.
        return String(unsafeUninitializedCapacity: 32) { out in
            Self.writeHex(high, into: out, at: 0)
            Self.writeHex(low, into: out, at: 16)
            return 32
        }
    }

    public func spanID<G: RandomNumberGenerator>(using rng: inout G) -> String {
        var v = rng.next() as UInt64
        if v == 0 { v = 1 }
        return Self.hex(v)
    }

    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    static func hex(_ v: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { out in
            writeHex(v, into: out, at: 0)
            return 16
        }
    }

    private static func writeHex(_ v: UInt64, into out: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        var x = v
        for i in stride(from: offset + 15, through: offset, by: -1) {
            out[i] = digits[Int(x & 0xF)]
            x >>= 4
        }
    }

    /// The value of one lower-case hex digit (already validated).
    static func hexValue(_ c: UInt8) -> UInt8 {
        c <= 0x39 ? c - 0x30 : c - 0x61 + 10
    }
}
