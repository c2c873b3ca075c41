import CDevMeshShims
import DevMeshCore
import DevMeshSupervisor
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// Until the SQLite store exists, spans and access records go to `.devmesh/telemetry.jsonl` (one
/// JSON object a line, `{"span": …}` or `{"access": …}`), and access lines optionally to the
/// terminal. Called on event loops, so it never blocks: a bounded queue and a writer thread;
/// when the queue is full, records are dropped and counted.
final class TelemetryFileWriter: TelemetrySink, Sendable {
    /// Records are encoded on the writer thread: the event loop only appends a value.
    private let queue = BoundedQueue<Envelope>(capacity: 8_192)
    private let dropped = NIOLockedValueBox<Int>(0)
    private let written = NIOLockedValueBox<Int>(0)
    private let terminal: LogOutput?
    private let done = NIOLockedValueBox<[CheckedContinuation<Void, Never>]?>([])

    /// `terminal`: where `--access-log` lines go (nil: not printed).
    init(path: String, terminal: LogOutput?) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StackRunner.Refusal(message: "cannot open \(path): \(String(cString: strerror(errno)))", hint: nil)
        }
        self.terminal = terminal
        let queue = self.queue
        let done = self.done
        let dropped = self.dropped
        let written = self.written
        Thread.detachNewThread {
            // Below the event loops: under overload the loops keep serving, the queue absorbs
            // bursts, and what does not fit is dropped and counted (PRODUCT.md, "Durability").
            _ = cdevmesh_set_thread_nice(10)
            while let (records, lost) = queue.popAll() {
                if lost > 0 { dropped.withLockedValue { $0 += lost } }
                written.withLockedValue { $0 += records.count }
                var chunk: [UInt8] = []
                chunk.reserveCapacity(records.count * 700)
                for record in records {
                    switch record {
                    case .span(let span): JSONLines.append(span: span, to: &chunk)
                    case .access(let access): JSONLines.append(access: access, to: &chunk)
                    case .hop(let hop): JSONLines.append(hop: hop, to: &chunk)
                    }
                }
                _ = LogOutput.writeAll(fd, chunk)
                // Linger a little after a small batch: records then arrive in bigger batches,
                // with far fewer wake-ups and writes (telemetry may lag by milliseconds).
                if records.count < 1024 { usleep(5_000) }
            }
            close(fd)
            let waiters = done.withLockedValue { w -> [CheckedContinuation<Void, Never>] in
                defer { w = nil }
                return w ?? []
            }
            for w in waiters { w.resume() }
        }
    }

    /// Records written and dropped so far (a hop counts as one record: its span and access line).
    var counters: TelemetryCounters {
        TelemetryCounters(recorded: written.withLockedValue { $0 }, dropped: dropped.withLockedValue { $0 } + queue.droppedSoFar)
    }

    func record(span: SpanRecord) {
        queue.push(.span(span), mayBlock: false)
    }

    func record(hop: HopRecord) {
        queue.push(.hop(hop), mayBlock: false)
        if terminal != nil { printAccess(hop.access()) }
    }

    func record(access: AccessLogRecord) {
        queue.push(.access(access), mayBlock: false)
        printAccess(access)
    }

    private func printAccess(_ access: AccessLogRecord) {
        if let terminal {
            let who = access.instance ?? access.service
            let arrow = access.listener == "egress" ? "→ \(access.upstream ?? "?")" : "←"
            var text = "\(arrow) \(access.method) \(access.path) \(access.status) \(String(format: "%.1fms", access.durationMillis)) trace=\(access.traceID.prefix(8))"
            if let error = access.error { text += " error=\(error)" }
            terminal.emit(LogLine(instance: who, service: access.service, stream: .access, timestamp: access.time, text: text))
        }
    }

    enum Envelope: Sendable {
        case span(SpanRecord)
        case access(AccessLogRecord)
        case hop(HopRecord)
    }

    /// Writes what is queued and closes the file; gives up waiting after `timeout` (a stuck disk
    /// must not keep devmesh from exiting).
    func finish(timeout: Duration = .seconds(5)) async {
        queue.close()
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
    }
}
