import DevMeshCore
import Testing

@Suite struct GCRATests {
    let second: UInt64 = 1_000_000_000

    @Test func aBurstOfTheAllowanceThenOneRequestPerInterval() {
        var limit = GCRA(requests: 3, period: .seconds(60))
        let t0: UInt64 = 1_000 * second
        let first = (0..<3).map { _ in limit.admit("1.2.3.4", now: t0) }
        #expect(first.map(\.allowed) == [true, true, true])
        #expect(first.map(\.remaining) == [2, 1, 0])
        let refused = limit.admit("1.2.3.4", now: t0)
        #expect(!refused.allowed)
        #expect(refused.retryAfterSeconds == 20, "one request per 20 s once the burst is spent")
        #expect(refused.resetSeconds == 60)
        #expect(limit.admit("5.6.7.8", now: t0).allowed, "keys are limited apart")
        #expect(!limit.admit("1.2.3.4", now: t0 + 19 * second).allowed)
        #expect(limit.admit("1.2.3.4", now: t0 + 20 * second).allowed)
        // After a whole period of quiet, the whole allowance again.
        let later = limit.admit("1.2.3.4", now: t0 + 200 * second)
        #expect(later.allowed && later.remaining == 2)
    }

    @Test func keysAreBounded() {
        var limit = GCRA(requests: 1, period: .seconds(1), maxKeys: 100)
        for i in 0..<1_000 { _ = limit.admit("k\(i)", now: UInt64(i) * 1_000_000) }
        #expect(limit.keyCount <= 100)
    }
}
