/// A 64-bit hash of a trace id (FNV-1a over its 32 lower-case hex digits, then a final mix), as
/// the signed integer SQLite indexes. A hash rather than a slice of the id, because ids are not
/// always random where one would slice (older tracers' 64-bit ids are zero-padded in front; test
/// ids share long runs). Two traces colliding needs about 4 billion of them; an index of integers
/// is a quarter the size of one of 32-character texts, so the writer dirties far fewer pages per
/// batch. The value is stored: this function must never change.
enum TraceKey {
    static func key(_ traceID: String) -> Int64? {
        guard traceID.utf8.count == 32 else { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in traceID.utf8 {
            let lower: UInt8
            switch c {
            case 0x30...0x39, 0x61...0x66: lower = c
            case 0x41...0x46: lower = c | 0x20
            default: return nil
            }
            hash = (hash ^ UInt64(lower)) &* 0x0000_0100_0000_01b3
        }
        // splitmix64's finaliser: FNV's low bits are weak on short, similar inputs.
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        return Int64(bitPattern: hash)
    }
}
