import DevMeshCore
import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import Synchronization

/// `GET /api/v1/logs/stream`: log lines as Server-Sent Events, for the UI's live tail. Each line
/// is an event `log` whose `id` is the line's store id, so a reconnecting `EventSource` resumes
/// with `Last-Event-ID` and misses nothing. Streams are capped (each holds a connection), send a
/// comment every 15 s so idle proxies and browsers keep them, and end when devmesh shuts down.
final class LogStreams: Sendable {
    static let maxStreams = 32
    static let batch = 500
    static let keepAlive: Duration = .seconds(15)
    /// How long one wait for new lines lasts before shutdown is checked again.
    static let slice: Duration = .seconds(1)

    private let open = Mutex(0)

    var count: Int { open.withLock { $0 } }

    func open(_ requested: LogFilter, telemetry: any TelemetryQuerying) async throws -> Response {
        let admitted = open.withLock { count -> Bool in
            guard count < Self.maxStreams else { return false }
            count += 1
            return true
        }
        guard admitted else {
            return APIError.response(.serviceUnavailable, "too many live log streams open (\(Self.maxStreams)); close some UI tabs")
        }
        // The slot is the body's from here on; until the body runs, a failure gives it back.
        var handedOver = false
        defer { if !handedOver { open.withLock { $0 -= 1 } } }
        // Without `after`: the newest `limit` lines first (as `/api/v1/logs` gives them), then what comes.
        var filter = requested
        var first: [TelemetryLog] = []
        if filter.afterID == nil {
            let newest = try await telemetry.lastLogID()
            first = try await telemetry.logs(filter)
            filter.afterID = max(newest, first.last?.id ?? 0)
        }
        filter.limit = Self.batch
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("x-accel-buffering")!] = "no"
        let start = filter, initial = first
        let body = ResponseBody { [self] writer in
            defer { self.open.withLock { $0 -= 1 } }
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            if !initial.isEmpty { try await writer.write(Self.events(initial)) }
            try await Self.follow(start, telemetry: telemetry, writer: &writer)
            try await writer.finish(nil)
        }
        handedOver = true
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Sends lines as they are stored until the client goes away (a write fails) or devmesh stops.
    static func follow(_ start: LogFilter, telemetry: any TelemetryQuerying, writer: inout any ResponseBodyWriter) async throws {
        var filter = start
        var quiet: Duration = .zero
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            // Lines up to `newest` that match are all in the answer unless it is full; then the
            // next query starts at `newest`, so a filter that matches nothing never rescans.
            let newest = try await telemetry.lastLogID()
            let lines = try await telemetry.logs(filter)
            if !lines.isEmpty {
                try await writer.write(events(lines))
                quiet = .zero
            }
            if lines.count >= batch {
                filter.afterID = lines.last?.id ?? filter.afterID
                continue
            }
            filter.afterID = max(newest, lines.last?.id ?? 0, filter.afterID ?? 0)
            let before = ContinuousClock.now
            await telemetry.waitForLogs(after: filter.afterID ?? 0, timeout: slice)
            quiet += ContinuousClock.now - before
            if quiet >= keepAlive {
                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                quiet = .zero
            }
        }
    }

    static func events(_ lines: [TelemetryLog]) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var buffer = ByteBuffer()
        for line in lines {
            // JSON never contains a raw newline, so one `data:` line carries the whole object.
            buffer.writeString("event: log\nid: \(line.id ?? 0)\ndata: ")
            buffer.writeBytes(try encoder.encode(line))
            buffer.writeString("\n\n")
        }
        return buffer
    }
}
