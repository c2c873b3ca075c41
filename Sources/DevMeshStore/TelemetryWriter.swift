import CDevMeshShims
import DevMeshCore
import Foundation
import NIOConcurrencyHelpers

/// The one writer of `devmesh.db`: a thread below the event loops' priority that takes whatever
/// is queued and writes it in one transaction, then acknowledges the OTLP requests in it, tells
/// `logs -f` followers, hands the records to the exporter and, now and then, applies retention.
///
/// Producers never block (PRODUCT.md, "Durability"): the sidecars' hops, spans and log lines are
/// dropped and counted when the inbox is full; OTLP batches are refused (503) instead.
public final class TelemetryWriter: TelemetrySink, LogSink, Sendable {
    public struct Options: Sendable {
        /// Records waiting for the writer. Small on purpose: under overload the queue is full,
        /// and every queued record is memory (~2.5 MB at 4,096 hops).
        public var capacity = 4_096
        /// Spans plus logs of OTLP requests waiting for their commit.
        public var acknowledgedCapacity = 200_000
        public var retention = TelemetryRetention()
        /// How often retention runs.
        public var retentionInterval: Double = 30
        /// devmesh's version and the stack's root (the `runs` row).
        public var version = "dev"
        public var root = ""
        /// Bytes of captured exchanges (record/replay) waiting for the writer; beyond it they are dropped.
        public var captureCapacity = 32 << 20
        /// Turns captures into stored recordings (redaction). Without one, captures are dropped:
        /// nothing is ever stored unredacted by accident.
        public var finisher: (any ExchangeFinishing)?
        /// Test hook: called on the writer thread before each batch (a test holds it to fill the inbox).
        public var beforeBatch: (@Sendable () -> Void)?

        public init() {}
    }

    /// What the writer committed, for the exporter (converted only when one is attached).
    public typealias CommitObserver = @Sendable (_ spans: [TelemetrySpan], _ logs: [TelemetryLog]) -> Void

    public let database: TelemetryDatabase
    private let inbox: TelemetryInbox
    private let counters = NIOLockedValueBox(Counts())
    private let followers = NIOLockedValueBox(Followers())
    private let done = NIOLockedValueBox<[CheckedContinuation<Void, Never>]?>([])
    private let observer: NIOLockedValueBox<CommitObserver?> = NIOLockedValueBox(nil)
    public let runID: Int64?

    struct Counts {
        var spans = 0
        var logs = 0
        var dropped = 0
        var rejected = 0
        var failedBatches = 0
        var lastError: String?
    }

    struct Followers {
        var lastLogID: Int64 = 0
        var waiting: [(after: Int64, continuation: CheckedContinuation<Void, Never>)] = []
    }

    public init(database: TelemetryDatabase, options: Options = Options()) throws {
        self.database = database
        inbox = TelemetryInbox(capacity: options.capacity, acknowledgedCapacity: options.acknowledgedCapacity,
                               captureCapacity: options.captureCapacity)
        runID = try? database.pool.write { db in
            try db.execute(sql: "INSERT INTO runs (started_ns, pid, root, version) VALUES (?, ?, ?, ?)",
                           arguments: [Int64(Date().timeIntervalSince1970 * 1e9), Int64(getpid()), options.root, options.version])
            return db.lastInsertedRowID
        }
        let lastLogID = (try? database.lastLogID()) ?? 0
        followers.withLockedValue { $0.lastLogID = lastLogID }
        let loop = WriterLoop(database: database, inbox: inbox, options: options, runID: runID, counters: counters,
                              followers: followers, observer: observer)
        let done = self.done
        Thread.detachNewThread {
            // Below the event loops: under overload the loops keep serving and the inbox drops.
            _ = cdevmesh_set_thread_nice(WriterLoop.normalNice)
            loop.run()
            let waiters = done.withLockedValue { w -> [CheckedContinuation<Void, Never>] in
                defer { w = nil }
                return w ?? []
            }
            for w in waiters { w.resume() }
        }
    }

    // MARK: TelemetrySink (event loops)

    public var isEnabled: Bool { true }

    /// Under overload the queue is full: the sidecars then skip making records that would only be dropped.
    public var isSaturated: Bool { inbox.isFull }

    public func recordSkipped() { inbox.countSkipped() }

    public func record(hop: HopRecord) {
        inbox.push(.hop(hop))
    }

    public func record(span: SpanRecord) {
        inbox.push(.span(span))
    }

    /// A recorded exchange (record/replay): best effort like every data-plane record.
    public func record(exchange: RecordedExchange) {
        inbox.push(.exchange(exchange))
    }

    /// A captured exchange, finished and stored by the writer thread (never on the event loop).
    public func record(capture: CapturedExchange) {
        inbox.push(.capture(capture))
    }

    /// Access records are the hops' spans, read back as such: nothing more to store
    /// (`up --access-log` prints them through `AccessLogPrinter`).
    public func record(access: AccessLogRecord) {}

    // MARK: LogSink (pipe readers, devmesh's own messages)

    public func append(_ line: LogLine) {
        guard line.stream != .access else { return }
        inbox.push(.log(line))
    }

    // MARK: OTLP

    /// Stores an OTLP request's spans and logs; `true` once committed, `false` when the store is
    /// full or failed (answer 503: the client retries).
    public func storeAcknowledged(spans: [TelemetrySpan], logs: [TelemetryLog]) async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let once = NIOLockedValueBox(false)
            let batch = AcknowledgedBatch(spans: spans, logs: logs) { ok in
                let first = once.withLockedValue { fired -> Bool in
                    defer { fired = true }
                    return !fired
                }
                if first { c.resume(returning: ok) }
            }
            if !inbox.push(batch) {
                counters.withLockedValue { $0.rejected += 1 }
                batch.completion(false)
            }
        }
    }

    public func setCommitObserver(_ observer: CommitObserver?) {
        self.observer.withLockedValue { $0 = observer }
    }

    // MARK: Following and counters

    /// Returns once a log line newer than `id` is committed, or after `timeout`.
    public func waitForLogs(after id: Int64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [followers] in
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let ready = followers.withLockedValue { f -> Bool in
                        if f.lastLogID > id { return true }
                        f.waiting.append((id, c))
                        return false
                    }
                    if ready { c.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            // Wake the follower task if the timeout won (it is otherwise left waiting).
            let stale = followers.withLockedValue { f -> [CheckedContinuation<Void, Never>] in
                let mine = f.waiting.filter { $0.after == id }.map(\.continuation)
                f.waiting.removeAll { $0.after == id }
                return mine
            }
            for c in stale { c.resume() }
            group.cancelAll()
        }
    }

    public var telemetryCounters: TelemetryCounters {
        let c = counters.withLockedValue { $0 }
        return TelemetryCounters(recorded: c.spans + c.logs, dropped: c.dropped + inbox.droppedSoFar + inbox.skippedSoFar,
                                 spans: c.spans, logs: c.logs, otlpRejected: c.rejected, lastError: c.lastError)
    }

    /// Writes what is queued, closes the run, and stops the thread; gives up waiting after
    /// `timeout` (a stuck disk must not keep devmesh from exiting).
    public func finish(timeout: Duration = .seconds(5)) async {
        inbox.close()
        let done = self.done
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let finished = done.withLockedValue { w -> Bool in
                        guard w != nil else { return true }
                        w!.append(c)
                        return false
                    }
                    if finished { c.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        let followers = self.followers.withLockedValue { f -> [CheckedContinuation<Void, Never>] in
            defer { f.waiting = [] }
            return f.waiting.map(\.continuation)
        }
        for c in followers { c.resume() }
    }
}
