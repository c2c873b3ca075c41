import CDevMeshShims
import DevMeshCore
import Foundation
import GRDB
import NIOConcurrencyHelpers

/// The body of the writer thread (see `TelemetryWriter`).
struct WriterLoop: Sendable {
    let database: TelemetryDatabase
    let inbox: TelemetryInbox
    let options: TelemetryWriter.Options
    let runID: Int64?
    let counters: NIOLockedValueBox<TelemetryWriter.Counts>
    let followers: NIOLockedValueBox<TelemetryWriter.Followers>
    let observer: NIOLockedValueBox<TelemetryWriter.CommitObserver?>

    /// Below the event loops, always.
    static let normalNice: Int32 = 10
    /// How long the writer stays at idle priority after it last saw overload.
    static let overloadHold: Double = 2

    func run() {
        var lastRetention = Date()
        var idleSince: Date?
        retain()
        while let intake = inbox.take(timeout: 1) {
            options.beforeBatch?()
            // Overload (the inbox overflowed or nearly did): the writer then runs only on CPU
            // the event loops leave idle, and the inbox drops — traffic keeps its cores. An
            // OTLP request waiting for its commit, or the stop, gets normal priority back.
            let overloaded = intake.dropped > 0 || intake.records.count >= inbox.capacity / 2
            let urgent = !intake.acknowledged.isEmpty || inbox.isClosed
            if overloaded, !urgent {
                if idleSince != nil || cdevmesh_set_thread_idle(1, 0) == 0 { idleSince = Date() }
            } else if let since = idleSince, urgent || Date().timeIntervalSince(since) >= Self.overloadHold {
                _ = cdevmesh_set_thread_idle(0, Self.normalNice)
                idleSince = nil
            }
            if !intake.isEmpty { write(intake) }
            if Date().timeIntervalSince(lastRetention) >= options.retentionInterval {
                retain()
                lastRetention = Date()
            }
            // Linger a little after a small batch: records then arrive in bigger batches, with
            // far fewer transactions (telemetry may lag by milliseconds; OTLP acks wait for it).
            if intake.records.count < 1024, intake.acknowledged.isEmpty, !intake.records.isEmpty { usleep(5_000) }
        }
        if let runID {
            try? database.pool.write { db in
                try db.execute(sql: "UPDATE runs SET ended_ns = ? WHERE id = ?", arguments: [Self.nowNanos(), runID])
            }
        }
    }

    static func nowNanos() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    private func retain() {
        do {
            try options.retention.apply(to: database.pool, nowNanos: UInt64(Self.nowNanos()))
        } catch {
            counters.withLockedValue { $0.lastError = "retention: \(error)" }
        }
    }

    private func write(_ intake: TelemetryIntake) {
        // Redaction parses JSON bodies: done before the transaction, so it never holds the lock.
        var finished: [RecordedExchange] = []
        if let finisher = options.finisher {
            for record in intake.records {
                if case .capture(let capture) = record { finished.append(finisher.finish(capture)) }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let observing = observer.withLockedValue { $0 } != nil
        var exportedSpans: [TelemetrySpan] = []
        var exportedLogs: [TelemetryLog] = []
        var spanCount = 0
        var logCount = 0
        var lastLogID: Int64 = 0
        do {
            try database.pool.write { db in
                let spans = SQLiteBinder(try db.cachedStatement(sql: SpanRow.insertSQL))
                let logs = SQLiteBinder(try db.cachedStatement(sql: LogRow.insertSQL))
                // Traces first: their `seq` is what each span is stored with.
                var rollup = TraceRollup()
                var recordSpans: [TelemetrySpan] = []
                for record in intake.records {
                    switch record {
                    case .hop(let hop): rollup.add(hop)
                    case .span(let record):
                        let span = TelemetrySpan(record)
                        rollup.add(span)
                        recordSpans.append(span)
                    case .log, .exchange, .capture: break
                    }
                }
                for batch in intake.acknowledged {
                    for span in batch.spans { rollup.add(span) }
                }
                let seqs = try rollup.flush(db, run: runID)
                for record in intake.records {
                    switch record {
                    case .hop(var hop):
                        // Secret query parameters get the recordings' markers in spans too.
                        if let finisher = options.finisher, hop.target.contains("?") { hop.target = finisher.redact(target: hop.target) }
                        try SpanRow.insert(hop, run: runID, traceSeq: seqs[hop.traceID] ?? 0, with: spans, db: db)
                        spanCount += 1
                        if observing { exportedSpans.append(TelemetrySpan(hop.span())) }
                    case .span: break
                    case .log(let line):
                        let log = TelemetryLog(line)
                        try LogRow.insert(log, run: runID, with: logs, db: db, encoder: encoder)
                        lastLogID = db.lastInsertedRowID
                        logCount += 1
                        if observing { exportedLogs.append(log) }
                    case .exchange(let exchange):
                        try RecordingRow.insert(exchange, run: runID, db: db)
                    case .capture: break
                    }
                }
                for exchange in finished {
                    try RecordingRow.insert(exchange, run: runID, db: db)
                }
                for span in recordSpans {
                    try SpanRow.insert(span, run: runID, traceSeq: seqs[span.traceID] ?? 0, with: spans, db: db, encoder: encoder)
                    spanCount += 1
                    if observing { exportedSpans.append(span) }
                }
                for batch in intake.acknowledged {
                    for span in batch.spans {
                        try SpanRow.insert(span, run: runID, traceSeq: seqs[span.traceID] ?? 0, with: spans, db: db, encoder: encoder)
                    }
                    for log in batch.logs {
                        try LogRow.insert(log, run: runID, with: logs, db: db, encoder: encoder)
                        lastLogID = db.lastInsertedRowID
                    }
                    spanCount += batch.spans.count
                    logCount += batch.logs.count
                    if observing {
                        exportedSpans += batch.spans
                        exportedLogs += batch.logs
                    }
                }
            }
        } catch {
            counters.withLockedValue {
                $0.dropped += intake.records.count + intake.dropped
                $0.failedBatches += 1
                $0.lastError = "\(error)"
            }
            for batch in intake.acknowledged { batch.completion(false) }
            return
        }
        counters.withLockedValue {
            $0.spans += spanCount
            $0.logs += logCount
            $0.dropped += intake.dropped
        }
        for batch in intake.acknowledged { batch.completion(true) }
        if lastLogID > 0 {
            let wake = followers.withLockedValue { f -> [CheckedContinuation<Void, Never>] in
                f.lastLogID = max(f.lastLogID, lastLogID)
                let ready = f.waiting.filter { $0.after < f.lastLogID }.map(\.continuation)
                f.waiting.removeAll { $0.after < f.lastLogID }
                return ready
            }
            for c in wake { c.resume() }
        }
        if observing, !(exportedSpans.isEmpty && exportedLogs.isEmpty), let observe = observer.withLockedValue({ $0 }) {
            observe(exportedSpans, exportedLogs)
        }
    }
}
