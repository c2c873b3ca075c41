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
    /// Future versions are read by their first four fields, as the spec asks.
    public static func parse(_ value: String) -> TraceContext? {
        let bytes = Array(value.utf8)
        guard bytes.count >= 55 else { return nil }
        func isHex(_ range: Range<Int>) -> Bool {
            bytes[range].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        }
        guard isHex(0..<2), bytes[2] == 0x2D, isHex(3..<35), bytes[35] == 0x2D, isHex(36..<52), bytes[52] == 0x2D,
              isHex(53..<55) else { return nil }
        let version = String(decoding: bytes[0..<2], as: UTF8.self)
        if version == "ff" { return nil }
        if version == "00", bytes.count != 55 { return nil }
        if version != "00", bytes.count > 55, bytes[55] != 0x2D { return nil }
        let trace = String(decoding: bytes[3..<35], as: UTF8.self)
        let span = String(decoding: bytes[36..<52], as: UTF8.self)
        guard trace != String(repeating: "0", count: 32), span != String(repeating: "0", count: 16) else { return nil }
        let flags = UInt8(String(decoding: bytes[53..<55], as: UTF8.self), radix: 16) ?? 0
        return TraceContext(traceID: trace, spanID: span, flags: flags)
    }

    /// The `traceparent` value for a child whose span id is `spanID`.
    public func header(spanID: String) -> String {
        "00-\(traceID)-\(spanID)-\(flags < 16 ? "0" : "")\(String(flags, radix: 16))"
    }
}

/// Random trace and span ids (never all zero).
public struct TraceIDGenerator: Sendable {
    public init() {}

    public func traceID<G: RandomNumberGenerator>(using rng: inout G) -> String {
        var high = rng.next() as UInt64
        let low = rng.next() as UInt64
        if high == 0 && low == 0 { high = 1 }
        return Self.hex(high) + Self.hex(low)
    }

    public func spanID<G: RandomNumberGenerator>(using rng: inout G) -> String {
        var v = rng.next() as UInt64
        if v == 0 { v = 1 }
        return Self.hex(v)
    }

    static let digits = Array("0123456789abcdef".utf8)

    static func hex(_ v: UInt64) -> String {
        var out = [UInt8](repeating: 0, count: 16)
        var x = v
        for i in stride(from: 15, through: 0, by: -1) {
            out[i] = digits[Int(x & 0xF)]
            x >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }
}
