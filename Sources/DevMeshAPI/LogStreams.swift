import DevMeshCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOConcurrencyHelpers
import ServiceLifecycle

/// `GET /api/v1/logs/stream`: log lines as Server-Sent Events, for the UI's live tail. Each line
/// is an event `log` whose `id` is the line's store id, so a reconnecting `EventSource` resumes
/// with `Last-Event-ID` and misses nothing. Streams are capped (each holds a connection), send a
/// comment every 15 s so idle proxies and browsers keep them, and end within a second when
/// devmesh shuts down (Hummingbird waits for open requests before it stops).
final class LogStreams: Sendable {
    static let maxStreams = 32
    static let batch = 500
    /// Lines sent when a stream opens (the newest of them); the UI fetches history with `/logs`.
    static let initialLines = 2_000
    static let keepAlive: Duration = .seconds(15)
    /// How long one wait for new lines lasts before the stream writes or checks again.
    static let slice: Duration = .seconds(1)

    private let open = NIOLockedValueBox(0)

    var count: Int { open.withLockedValue { $0 } }

    /// One admitted stream's place; given back when the last reference goes, whether the body ran
    /// to its end, failed, or never ran (Hummingbird drops the body when writing the head fails).
    final class Slot: Sendable {
        let streams: LogStreams
        init(_ streams: LogStreams) { self.streams = streams }
        deinit { streams.open.withLockedValue { $0 -= 1 } }
    }

    func admit() -> Slot? {
        let admitted = open.withLockedValue { count -> Bool in
            guard count < Self.maxStreams else { return false }
            count += 1
            return true
        }
        return admitted ? Slot(self) : nil
    }

    func open(_ requested: LogFilter, telemetry: any TelemetryQuerying) async throws -> Response {
        guard let slot = admit() else {
            return APIError.response(.serviceUnavailable, "too many live log streams open (\(Self.maxStreams)); close some UI tabs")
        }
        // Without `after`: the newest lines first (as `/api/v1/logs` gives them), then what comes.
        var filter = requested
        var first: [TelemetryLog] = []
        if filter.afterID == nil {
            let newest = try await telemetry.lastLogID()
            var initial = filter
            initial.limit = min(filter.limit, Self.initialLines)
            first = try await telemetry.logs(initial)
            filter.afterID = max(newest, first.last?.id ?? 0)
        }
        filter.limit = Self.batch
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("x-accel-buffering")!] = "no"
        let start = filter, initial = first
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            if !initial.isEmpty { try await writer.write(Self.events(initial)) }
            try await Self.follow(start, telemetry: telemetry, writer: &writer)
            try await writer.finish(nil)
            withExtendedLifetime(slot) {}
        }
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
