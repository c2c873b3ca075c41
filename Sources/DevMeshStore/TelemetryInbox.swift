import DevMeshCore
import Foundation
import Synchronization

/// What the writer thread takes in one go: best-effort records from the data plane and the
/// supervisor, and acknowledged batches (OTLP requests waiting for their commit).
struct TelemetryIntake {
    var records: [TelemetryRecord] = []
    var acknowledged: [AcknowledgedBatch] = []
    var dropped = 0
    var isEmpty: Bool { records.isEmpty && acknowledged.isEmpty && dropped == 0 }
}

/// A record made inside devmesh: best effort (PRODUCT.md, "Durability").
enum TelemetryRecord: Sendable {
    case hop(HopRecord)
    case span(SpanRecord)
    case log(LogLine)
    case exchange(RecordedExchange)
    /// Finished (de-chunked, redacted) into an `exchange` on the writer thread.
    case capture(CapturedExchange)
}

/// An OTLP request's spans and logs: answered 200 only after `completion(true)`, which the writer
/// calls once the transaction holding them committed.
struct AcknowledgedBatch: Sendable {
    var spans: [TelemetrySpan]
    var logs: [TelemetryLog]
    var completion: @Sendable (Bool) -> Void

    var size: Int { spans.count + logs.count }
}

/// Between producers (event loops, pipe readers, OTLP handlers) and the writer thread. Producers
/// never wait: a full inbox drops best-effort records (counted) and refuses acknowledged batches
/// (the OTLP client is told 503 and retries).
///
/// `@unchecked Sendable` is sound: every mutable stored property is read and written only between
/// `condition.lock()` and `condition.unlock()`; the capacities are immutable; elements are Sendable.
final class TelemetryInbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var intake = TelemetryIntake()
    private var acknowledgedSize = 0
    private var closed = false
    /// Bytes of queued captures (their bodies), bounded apart from the record count.
    private var captureBytes = 0
    /// Set when a record was dropped for want of room, cleared when the writer takes the queue:
    /// read without the lock by the event loops, which then skip building records that would
    /// only be dropped (and count them here instead).
    private let full = Atomic<Bool>(false)
    private let skipped = Atomic<Int>(0)
    let captureCapacity: Int
    let capacity: Int
    let acknowledgedCapacity: Int

    init(capacity: Int, acknowledgedCapacity: Int, captureCapacity: Int = 32 << 20) {
        self.captureCapacity = captureCapacity
        self.capacity = capacity
        self.acknowledgedCapacity = acknowledgedCapacity
    }

    /// `false` when the record was dropped.
    @discardableResult
    func push(_ record: TelemetryRecord) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        guard intake.records.count < capacity else {
            intake.dropped += 1
            full.store(true, ordering: .relaxed)
            return false
        }
        if case .capture(let capture) = record {
            guard captureBytes + capture.byteCount <= captureCapacity else {
                intake.dropped += 1
                return false
            }
            captureBytes += capture.byteCount
        }
        intake.records.append(record)
        // Only the writer waits on an empty inbox: wake it only then (a wake is a syscall).
        if intake.records.count == 1 { condition.broadcast() }
        return true
    }

    /// `false` when there is no room (or the store is closing): nothing was taken.
    func push(_ batch: AcknowledgedBatch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed, acknowledgedSize + batch.size <= acknowledgedCapacity || acknowledgedSize == 0 else { return false }
        intake.acknowledged.append(batch)
        acknowledgedSize += batch.size
        condition.broadcast()
        return true
    }

    /// Everything queued, waiting up to `timeout` for something; `nil` once closed and drained.
    func take(timeout: Double) -> TelemetryIntake? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while intake.isEmpty, !closed {
            if !condition.wait(until: deadline) { break }
        }
        if intake.isEmpty, closed { return nil }
        let out = intake
        intake = TelemetryIntake()
        acknowledgedSize = 0
        captureBytes = 0
        full.store(false, ordering: .relaxed)
        return out
    }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    var droppedSoFar: Int {
        condition.lock()
        defer { condition.unlock() }
        return intake.dropped
    }

    /// True while the queue is full: a record pushed now would be dropped.
    var isFull: Bool { full.load(ordering: .relaxed) }

    /// A record that was not even made because the queue was full.
    func countSkipped() { skipped.wrappingAdd(1, ordering: .relaxed) }

    var skippedSoFar: Int { skipped.load(ordering: .relaxed) }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
