import DevMeshCore
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The terminal side of logging: formats each line and writes it whole, one `write(2)` per line
/// under a lock, so lines from different children never interleave mid-line. Every line also goes
/// to the sink (the store, later).
public final class LogOutput: Sendable {
    private let state: NIOLockedValueBox<LogFormatter>
    private let sink: (any LogSink)?
    private let fd: Int32

    public init(formatter: LogFormatter, sink: (any LogSink)? = nil, fd: Int32 = 1) {
        self.state = NIOLockedValueBox(formatter)
        self.sink = sink
        self.fd = fd
    }

    /// Widens the prefix column when new instance ids appear (e.g. a service scaled up).
    public func reserveWidth(for instance: String) {
        state.withLockedValue { $0.prefixWidth = max($0.prefixWidth, instance.count) }
    }

    public func emit(_ line: LogLine) {
        sink?.append(line)
        state.withLockedValue { formatter in
            var bytes = Array(formatter.format(line).utf8)
            bytes.append(UInt8(ascii: "\n"))
            Self.writeAll(fd, bytes)
        }
    }

    /// A message from devmesh itself.
    public func announce(_ text: String, severity: Diagnostic.Severity? = nil, clock: WallClock = .system) {
        emit(LogLine(instance: "devmesh", service: "devmesh", stream: .devmesh, timestamp: clock.now(), text: text, severity: severity))
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    return  // stdout closed or broken: the sink still has the line
                }
            }
        }
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
