import DevMeshCore
import DevMeshSupervisor
import Foundation

/// `up --access-log`: one terminal line per proxied request, in front of the real sink. Printing
/// goes through `LogOutput`, which never blocks the event loop (it drops and counts when full).
struct AccessLogPrinter: TelemetrySink {
    let next: any TelemetrySink
    let output: LogOutput

    var isEnabled: Bool { true }

    func record(hop: HopRecord) {
        if next.isEnabled { next.record(hop: hop) }
        print(hop.access())
    }

    func record(span: SpanRecord) {
        if next.isEnabled { next.record(span: span) }
    }

    func record(capture: CapturedExchange) {
        if next.isEnabled { next.record(capture: capture) }
    }

    func record(access: AccessLogRecord) {
        if next.isEnabled { next.record(access: access) }
        print(access)
    }

    private func print(_ access: AccessLogRecord) {
        let who = access.instance ?? access.service
        let arrow = access.listener == "egress" ? "→ \(access.upstream ?? "?")" : "←"
        var text = "\(arrow) \(access.method) \(access.path) \(access.status) \(String(format: "%.1fms", access.durationMillis)) trace=\(access.traceID.prefix(8))"
        if let caller = access.caller { text += " " + caller.replacingOccurrences(of: " ", with: "=") }
        if let error = access.error { text += " error=\(error)" }
        output.emit(LogLine(instance: who, service: access.service, stream: .access, timestamp: access.time, text: text))
    }
}
