@testable import DevMeshProxy
import NIOCore
import Testing

/// Ejection and re-admission on a synthetic clock, so the outcome never depends on how fast
/// the machine runs the requests.
struct OutlierDetectorTests {
    let bad = Endpoint(port: 1, name: "bad")
    let good = Endpoint(port: 2, name: "good")
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func at(_ seconds: Double) -> NIODeadline {
        start + .nanoseconds(Int64(seconds * 1e9))
    }

    @Test func ejectsAfterTheConfiguredRunOfFailuresOnly() {
        let d = OutlierDetector()
        for i in 0..<4 {
            d.record(bad, failed: true, now: at(Double(i)))
        }
        #expect(!d.isEjected(bad, now: at(4)))
        d.record(bad, failed: false, now: at(4))
        for i in 0..<4 {
            d.record(bad, failed: true, now: at(5 + Double(i)))
        }
        #expect(!d.isEjected(bad, now: at(9)), "a success in between starts the count again")
        d.record(bad, failed: true, now: at(9))
        #expect(d.isEjected(bad, now: at(9)))
        #expect(d.admitted([bad, good], now: at(10)) == [good])
    }

    @Test func readmitsAfterTheEjectionAndDoublesItEachTime() {
        var policy = EjectionPolicy()
        policy.consecutiveFailures = 2
        policy.baseEjection = .seconds(5)
        policy.maxEjection = .seconds(12)
        let d = OutlierDetector(policy: policy)
        func eject(at t: Double) {
            d.record(bad, failed: true, now: at(t))
            d.record(bad, failed: true, now: at(t))
        }
        eject(at: 0)
        #expect(d.isEjected(bad, now: at(4.9)))
        #expect(!d.isEjected(bad, now: at(5)), "re-admitted after the base ejection")
        eject(at: 5)
        #expect(d.isEjected(bad, now: at(14.9)), "second ejection lasts twice as long")
        #expect(!d.isEjected(bad, now: at(15)))
        eject(at: 15)
        #expect(d.isEjected(bad, now: at(26.9)), "capped at maxEjection")
        #expect(!d.isEjected(bad, now: at(27)))
        #expect(d.admitted([bad, good], now: at(27)) == [bad, good])
    }
}
