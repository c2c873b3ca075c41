import DevMeshCore
@testable import DevMeshStore
import Foundation
import Testing

@Suite struct WriterBackpressureTests {
    /// A held writer with a full inbox: producers never wait, the overflow is dropped and counted.
    @Test func fullInboxDropsWithoutBlocking() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let gate = WriterGate()
            let writer = try Fixtures.writer(db) {
                $0.capacity = 10
                $0.beforeBatch = gate.hook
            }
            defer { gate.release() }
            let t0 = Fixtures.nowNanos()
            func hop(_ n: Int) -> HopRecord {
                Fixtures.hop(trace: Fixtures.id(n + 1, length: 32, salt: "d0"), span: Fixtures.id(n + 1, length: 16),
                             parent: nil, service: "web", target: "/load/\(n)", start: t0 + UInt64(n))
            }
            writer.record(hop: hop(0))
            try #require(await gate.entered(), "the writer took the first hop and is held")

            let clock = ContinuousClock()
            let start = clock.now
            for n in 1...1000 { writer.record(hop: hop(n)) }
            let elapsed = clock.now - start
            #expect(elapsed < .seconds(1), "pushing 1000 hops took \(elapsed)")
            #expect(writer.telemetryCounters.dropped >= 989, "dropped while held: \(writer.telemetryCounters.dropped)")

            gate.release()
            await writer.finish()
            let counters = writer.telemetryCounters
            let stored = try db.spanCount()
            #expect(counters.dropped >= 989 && counters.dropped <= 991, "dropped \(counters.dropped)")
            #expect(stored + counters.dropped == 1001, "stored \(stored) + dropped \(counters.dropped)")
            #expect(counters.spans == stored)
            #expect(counters.recorded == stored)
            #expect(try db.traces(TraceFilter(limit: 10_000)).count == stored)
            #expect(try db.integrityCheck() == "ok")
        }
    }

    /// OTLP batches are never dropped silently: beyond the acknowledged capacity they are refused
    /// at once (the client gets a 503), and counted.
    @Test func acknowledgedBatchesBeyondCapacityAreRefused() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let gate = WriterGate()
            let writer = try Fixtures.writer(db) {
                $0.acknowledgedCapacity = 5
                $0.beforeBatch = gate.hook
            }
            defer { gate.release() }
            let t0 = Fixtures.nowNanos()
            writer.record(hop: Fixtures.hop(trace: Fixtures.id(1, length: 32, salt: "ac"), span: Fixtures.id(1, length: 16),
                                            parent: nil, service: "web", target: "/held", start: t0))
            try #require(await gate.entered())

            func batch(_ n: Int) -> [TelemetrySpan] {
                (0..<3).map { i in
                    TelemetrySpan(traceID: Fixtures.id(n, length: 32, salt: "ab"), spanID: Fixtures.id(i + 1, length: 16, salt: "b"),
                                  parentSpanID: nil, service: "app", instance: nil, kind: .internal, name: "op",
                                  startNanos: t0 + UInt64(i), durationNanos: 1, status: .unset)
                }
            }
            // Two batches of 3 against a capacity of 5: whichever comes second is refused, and
            // answered while the writer is still held; the first waits for its commit.
            let first = batch(1), second = batch(2), third = batch(3)
            let results = await withTaskGroup(of: Bool.self) { group -> [Bool] in
                group.addTask { await writer.storeAcknowledged(spans: first, logs: []) }
                group.addTask { await writer.storeAcknowledged(spans: second, logs: []) }
                var results: [Bool] = []
                if let r = await group.next() { results.append(r) }
                #expect(writer.telemetryCounters.otlpRejected == 1)
                gate.release()
                if let r = await group.next() { results.append(r) }
                return results
            }
            #expect(results == [false, true])
            await writer.finish()
            #expect(writer.telemetryCounters.otlpRejected == 1)
            #expect(try db.spanCount() == 1 + 3)

            // Once finished, the store refuses too (rather than leaving the request waiting).
            let late = await writer.storeAcknowledged(spans: third, logs: [])
            #expect(!late)
            #expect(writer.telemetryCounters.otlpRejected == 2)
        }
    }

    /// A batch larger than the capacity still goes through when nothing else waits (it could
    /// never be stored otherwise).
    @Test func oversizedBatchIsAcceptedAlone() async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db) { $0.acknowledgedCapacity = 5 }
            let spans = (0..<20).map { i in
                TelemetrySpan(traceID: "0b000000000000000000000000000001", spanID: Fixtures.id(i + 1, length: 16), parentSpanID: nil,
                              service: "app", instance: nil, kind: .internal, name: "op", startNanos: Fixtures.nowNanos(),
                              durationNanos: 1, status: .unset)
            }
            #expect(await writer.storeAcknowledged(spans: spans, logs: []))
            #expect(try db.spanCount() == 20)
            await writer.finish()
        }
    }
}
