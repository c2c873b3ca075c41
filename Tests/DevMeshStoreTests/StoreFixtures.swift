import DevMeshCore
@testable import DevMeshStore
import Foundation

/// A fresh directory per test, removed at the end, holding `devmesh.db`.
struct TempStore {
    let directory: URL
    var path: String { directory.appendingPathComponent("devmesh.db").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("devmesh-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    var fileSize: Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? -1
    }

    /// Runs `body` with a new store in a new directory, then removes the directory.
    static func with<T>(_ body: (TempStore) async throws -> T) async throws -> T {
        let store = try TempStore()
        defer { store.remove() }
        return try await body(store)
    }
}

enum Fixtures {
    /// Now, in Unix nanoseconds.
    static func nowNanos() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }

    static let ms: UInt64 = 1_000_000
    static let second: UInt64 = 1_000_000_000

    /// A well-formed lowercase hex id of `length` digits derived from `n` (never all zero).
    static func id(_ n: Int, length: Int, salt: String = "a") -> String {
        let digits = String(n, radix: 16)
        let body = salt + String(repeating: "0", count: max(0, length - salt.count - digits.count)) + digits
        return String(body.suffix(length))
    }

    static func hop(trace: String, span: String, parent: String?, listener: String = "inbound", service: String,
                    instance: String? = nil, upstream: String? = nil, method: String = "GET", target: String,
                    status: Int = 200, error: String? = nil, start: UInt64, duration: UInt64 = 10 * ms) -> HopRecord {
        HopRecord(
            listener: listener, service: service, instance: instance, upstreamName: upstream, traceID: trace, spanID: span,
            parentSpanID: parent, method: method, target: target, host: "127.0.0.1:7000", userAgent: "curl/8.5",
            minorVersion: 1, status: status, error: error, startNanos: start, durationNanos: duration,
            endpointName: upstream.map { "\($0).1" }, endpointHost: upstream == nil ? nil : "127.0.0.1",
            endpointPort: upstream == nil ? nil : 40001, attempts: 1, bytesIn: 12, bytesOut: 34)
    }

    static func line(_ text: String, service: String, instance: String? = nil, stream: LogLine.Stream = .stdout,
                     at timestamp: Double = Date().timeIntervalSince1970, severity: Diagnostic.Severity? = nil) -> LogLine {
        LogLine(instance: instance ?? "\(service).1", service: service, stream: stream, timestamp: timestamp, text: text,
                severity: severity)
    }

    static func writer(_ database: TelemetryDatabase, _ configure: (inout TelemetryWriter.Options) -> Void = { _ in }) throws -> TelemetryWriter {
        var options = TelemetryWriter.Options()
        // Nothing the tests write is removed behind their back.
        options.retention = TelemetryRetention(maxAge: .seconds(3650 * 86_400), maxBytes: 1 << 40)
        options.retentionInterval = 3600
        // Tests push thousands of records at once; only the drop tests want a small inbox.
        options.capacity = 100_000
        configure(&options)
        return try TelemetryWriter(database: database, options: options)
    }
}

/// Holds the writer thread inside `Options.beforeBatch` on its first call, until released.
final class WriterGate: @unchecked Sendable {
    private let lock = NSLock()
    private var first = true
    private let enteredSignal = DispatchSemaphore(value: 0)
    private let releaseSignal = DispatchSemaphore(value: 0)

    var hook: @Sendable () -> Void {
        { [self] in
            let block = lock.withLock { () -> Bool in
                defer { first = false }
                return first
            }
            guard block else { return }
            enteredSignal.signal()
            releaseSignal.wait()
        }
    }

    /// `true` once the writer is held (without blocking the caller's executor).
    func entered(timeout: Double = 10) async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            DispatchQueue.global().async { [enteredSignal] in
                c.resume(returning: enteredSignal.wait(timeout: .now() + timeout) == .success)
            }
        }
    }

    func release() { releaseSignal.signal() }
}
