import DevMeshCore
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The terminal side of logging. Lines are formatted by the caller and written by one writer
/// thread, whole (never interleaved mid-line), in the order they were emitted. Every line also
/// goes to the sink (the store, later).
///
/// A terminal that stops reading (`| less`, Ctrl-S) must never stall devmesh itself: devmesh's own
/// messages are dropped (and counted) when the queue is full, while apps' lines wait for room,
/// which only slows the log-reading event loop and, through the pipes, the chatty apps.
public final class LogOutput: Sendable {
    private let formatter: NIOLockedValueBox<LogFormatter>
    private let sink: (any LogSink)?
    private let queue: LineQueue
    private let finished = NIOLockedValueBox<[CheckedContinuation<Void, Never>]?>([])

    public init(formatter: LogFormatter, sink: (any LogSink)? = nil, fd: Int32 = 1, capacity: Int = 4096) {
        self.formatter = NIOLockedValueBox(formatter)
        self.sink = sink
        queue = LineQueue(capacity: capacity)
        let queue = self.queue
        let finished = self.finished
        Thread.detachNewThread {
            Self.writeLoop(queue: queue, fd: fd)
            let waiters = finished.withLockedValue { w -> [CheckedContinuation<Void, Never>] in
                defer { w = nil }
                return w ?? []
            }
            for w in waiters { w.resume() }
        }
    }

    /// Widens the prefix column when new instance ids appear (e.g. a service scaled up).
    public func reserveWidth(for instance: String) {
        formatter.withLockedValue { $0.prefixWidth = max($0.prefixWidth, instance.count) }
    }

    /// An app's line waits for room in the queue rather than be lost; devmesh's own lines and
    /// access lines (written from event loops) never wait: they are dropped and counted.
    public func emit(_ line: LogLine) {
        sink?.append(line)
        queue.push(bytes(line), mayBlock: line.stream == .stdout || line.stream == .stderr)
    }

    /// A message from devmesh itself; never blocks.
    public func announce(_ text: String, severity: Diagnostic.Severity? = nil, clock: WallClock = .system) {
        emit(LogLine(instance: "devmesh", service: "devmesh", stream: .devmesh, timestamp: clock.now(), text: text, severity: severity))
    }

    /// Writes out everything queued, then stops the writer. Lines emitted afterwards are dropped.
    public func finish() async {
        queue.close()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = finished.withLockedValue { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters!.append(c)
                return false
            }
            if done { c.resume() }
        }
    }

    private func bytes(_ line: LogLine) -> [UInt8] {
        var bytes = Array(formatter.withLockedValue { $0.format(line) }.utf8)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    private static func writeLoop(queue: LineQueue, fd: Int32) {
        var broken = false
        while let (lines, dropped) = queue.popAll() {
            guard !broken else { continue }
            var chunk: [UInt8] = []
            chunk.reserveCapacity(lines.reduce(0) { $0 + $1.count } + 80)
            if dropped > 0 {
                chunk += Array("devmesh | \(dropped) of devmesh's own log lines were dropped: the terminal was not reading\n".utf8)
            }
            for line in lines { chunk += line }
            broken = !writeAll(fd, chunk)
        }
    }

    /// `false` once the descriptor is closed or broken (the sink still has every line).
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    return false
                }
            }
            return true
        }
    }
}

/// Formatted lines between emitters and a writer thread.
public typealias LineQueue = BoundedQueue<[UInt8]>

/// A bounded FIFO between producers (event loops, pipe readers) and one consumer thread.
///
/// `@unchecked Sendable` is sound here: every stored property except the immutable `capacity` is
/// read and written only between `condition.lock()` and `condition.unlock()`, and the elements
/// themselves are `Sendable`.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var lines: [Element] = []
    private var dropped = 0
    private var closed = false
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// Adds one element; when full, waits (`mayBlock`) or drops it and counts the drop.
    public func push(_ line: Element, mayBlock: Bool) {
        condition.lock()
        defer { condition.unlock() }
        while lines.count >= capacity, !closed {
            guard mayBlock else {
                dropped += 1
                return
            }
            condition.wait()
        }
        guard !closed else { return }
        lines.append(line)
        // Only the consumer waits on an empty queue: wake it only then (a wake is a syscall).
        if lines.count == 1 { condition.broadcast() }
    }

    /// Everything queued, waiting until there is something; `nil` once closed and drained.
    public func popAll() -> (lines: [Element], dropped: Int)? {
        condition.lock()
        defer { condition.unlock() }
        while lines.isEmpty, dropped == 0, !closed { condition.wait() }
        if lines.isEmpty, dropped == 0, closed { return nil }
        let out = (lines, dropped)
        lines = []
        dropped = 0
        condition.broadcast()
        return out
    }

    /// Drops not yet handed to the consumer by `popAll`.
    public var droppedSoFar: Int {
        condition.lock()
        defer { condition.unlock() }
        return dropped
    }

    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Wall-clock time in seconds since the Unix epoch (timestamps of log lines).
public struct WallClock: Sendable {
    public let now: @Sendable () -> Double

    public init(now: @escaping @Sendable () -> Double) { self.now = now }

    public static let system = WallClock {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
