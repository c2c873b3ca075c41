import AsyncHTTPClient
import DevMeshCore
import DevMeshOTLP
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// `telemetry.otlp_export`: forwards what the store committed to a collector (Jaeger, Tempo, an
/// OpenTelemetry Collector) as OTLP/HTTP protobuf — batched, retried with backoff on 429/5xx and
/// connection errors, with a bounded buffer: when the collector is away for long, the oldest
/// batches are dropped and counted (`status` shows them), never devmesh's memory.
final class OTLPExporter: Sendable {
    let endpoint: OTLPEndpoint
    private let buffer = NIOLockedValueBox(Buffer())
    private let wake: AsyncStream<Void>.Continuation
    private let task: Task<Void, Never>
    private let ticker: Task<Void, Never>
    static let maxBuffered = 20_000
    static let batchSize = 512

    struct Buffer {
        var spans: [TelemetrySpan] = []
        var logs: [TelemetryLog] = []
        var dropped = 0
        var exported = 0
        var finishing = false
    }

    init(endpoint: OTLPEndpoint, client: HTTPClient = .shared) {
        self.endpoint = endpoint
        let (stream, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.wake = wake
        let buffer = self.buffer
        task = Task {
            for await _ in stream {
                let (spans, logs, finishing, done) = buffer.withLockedValue { b -> ([TelemetrySpan], [TelemetryLog], Bool, Bool) in
                    let spans = Array(b.spans.prefix(Self.batchSize * 4))
                    let logs = Array(b.logs.prefix(Self.batchSize * 4))
                    b.spans.removeFirst(spans.count)
                    b.logs.removeFirst(logs.count)
                    return (spans, logs, b.finishing, b.finishing && b.spans.isEmpty && b.logs.isEmpty)
                }
                if !spans.isEmpty {
                    let ok = await Self.post(OTLPProtobuf.traceRequest(spans), to: endpoint.tracesURL, client: client, patient: !finishing)
                    buffer.withLockedValue { if ok { $0.exported += spans.count } else { $0.dropped += spans.count } }
                }
                if !logs.isEmpty {
                    let ok = await Self.post(OTLPProtobuf.logsRequest(logs), to: endpoint.logsURL, client: client, patient: !finishing)
                    buffer.withLockedValue { if ok { $0.exported += logs.count } else { $0.dropped += logs.count } }
                }
                if done || Task.isCancelled { return }
                if finishing { wake.yield() }
            }
        }
        // A batch leaves when it is full, or after a second at most.
        ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                wake.yield()
            }
        }
    }

    /// Called on the store's writer thread after a commit: never blocks.
    func enqueue(spans: [TelemetrySpan], logs: [TelemetryLog]) {
        let full = buffer.withLockedValue { b -> Bool in
            b.spans += spans
            b.logs += logs
            let over = b.spans.count + b.logs.count - Self.maxBuffered
            if over > 0 {
                let fromSpans = min(over, b.spans.count)
                b.spans.removeFirst(fromSpans)
                b.logs.removeFirst(min(over - fromSpans, b.logs.count))
                b.dropped += over
            }
            return b.spans.count >= Self.batchSize || b.logs.count >= Self.batchSize
        }
        if full { wake.yield() }
    }

    var droppedCount: Int { buffer.withLockedValue { $0.dropped } }
    var exportedCount: Int { buffer.withLockedValue { $0.exported } }

    /// Sends what is buffered (one attempt each, a few seconds at most), then stops.
    func finish() async {
        buffer.withLockedValue { $0.finishing = true }
        wake.yield()
        let task = self.task
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await task.value }
            group.addTask { try? await Task.sleep(for: .seconds(5)) }
            await group.next()
            group.cancelAll()
        }
        task.cancel()
        ticker.cancel()
        wake.finish()
    }

    /// `true` when the collector took it. Retries what OTLP says is retryable, with backoff.
    static func post(_ body: [UInt8], to url: String, client: HTTPClient, patient: Bool) async -> Bool {
        var delay: Duration = .milliseconds(250)
        for attempt in 1...(patient ? 6 : 1) {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-protobuf")
            request.headers.add(name: "User-Agent", value: "devmesh/\(BuildInfo.version)")
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let response = try await client.execute(request, timeout: .seconds(10))
                _ = try? await response.body.collect(upTo: 1 << 20)
                if (200..<300).contains(response.status.code) { return true }
                guard [429, 502, 503, 504].contains(response.status.code) else { return false }
            } catch {
                // Connection refused, timeout: retry like a 503.
            }
            if attempt < 6, patient {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(8))
            }
        }
        return false
    }
}
