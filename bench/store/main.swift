// The store benchmark (docs/performance.md): sustained spans/s through the real writer, and the
// latency of the trace-list and trace-detail queries with a million spans in the file.
//   swift run -c release devmesh-store-bench [SPANS]      (default 1,000,000)
import DevMeshCore
import DevMeshStore
import Foundation

let total = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 1_000_000
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("devmesh-store-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
let path = directory + "/devmesh.db"

func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }
func hex(_ value: UInt64, _ digits: Int) -> String {
    let s = String(value, radix: 16)
    return String(repeating: "0", count: max(0, digits - s.count)) + s
}

/// Eight hops per request, as the sample shop makes: service → inbound → egress → inbound …
let services = ["frontend", "orders", "users", "inventory"]
let paths = ["/api/orders", "/orders/1", "/users/42", "/items/book"]
func hops(request n: Int, at start: UInt64) -> [HopRecord] {
    let trace = hex(UInt64(n) &* 0x9E37_79B9_7F4A_7C15 | 1, 16) + hex(UInt64(n) + 1, 16)
    var parent: String?
    var out: [HopRecord] = []
    for i in 0..<8 {
        let span = hex(UInt64(n) << 4 | UInt64(i) + 1, 16)
        let service = services[i / 2]
        let status = (n % 97 == 0 && i == 7) ? 503 : 200
        out.append(HopRecord(
            listener: i == 0 ? "service" : (i % 2 == 1 ? "inbound" : "egress"), service: service, instance: service + ".1",
            upstreamName: i % 2 == 0 && i > 0 ? services[i / 2] : nil, traceID: trace, spanID: span, parentSpanID: parent,
            method: "GET", target: paths[i / 2] + (i == 0 ? "?page=2" : ""), host: "127.0.0.1:7100", userAgent: "bench/1",
            minorVersion: 1, status: status, error: nil, startNanos: start + UInt64(i) * 100_000,
            durationNanos: UInt64(8 - i) * 200_000, endpointName: service + ".1", endpointHost: "127.0.0.1",
            endpointPort: 40000 + i, attempts: 1, bytesIn: 0, bytesOut: 512, sourcePrincipal: i % 2 == 1 ? "cluster.local/ns/default/sa/\(service)" : nil))
        parent = span
    }
    return out
}

let database = try TelemetryDatabase.open(path: path)
var options = TelemetryWriter.Options()
options.capacity = 200_000
options.retention = TelemetryRetention(maxAge: .seconds(30 * 86_400), maxBytes: 64 << 30)
options.retentionInterval = 3600
let writer = try TelemetryWriter(database: database, options: options)

// Sustained writes: chunks of 8,000 hops queued as fast as the writer takes them (the writer is
// the bottleneck; nothing is dropped, which the counters confirm).
let requests = total / 8
let base = now() - UInt64(requests) * 1_000_000
let clock = ContinuousClock()
let started = clock.now
var queued = 0
for n in 0..<requests {
    for hop in hops(request: n, at: base + UInt64(n) * 1_000_000) { writer.record(hop: hop) }
    queued += 8
    if queued % 8_000 == 0 {
        while queued - writer.telemetryCounters.recorded > 150_000 { usleep(1_000) }
    }
    if n % 10_000 == 0 {
        writer.append(LogLine(instance: "orders.1", service: "orders", stream: .stdout, timestamp: Date().timeIntervalSince1970,
                              text: "GET /orders/1 traceparent=00-\(hex(UInt64(n) &* 0x9E37_79B9_7F4A_7C15 | 1, 16) + hex(UInt64(n) + 1, 16))-\(hex(UInt64(n) << 4 | 4, 16))-01"))
    }
}
while writer.telemetryCounters.recorded + writer.telemetryCounters.dropped < queued + requests / 10_000 {
    usleep(1_000)
}
let elapsed = clock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let counters = writer.telemetryCounters
await writer.finish()

func measure(_ name: String, runs: Int = 30, _ body: () throws -> Int) rethrows -> String {
    var times: [Double] = []
    var rows = 0
    for _ in 0..<runs {
        let t0 = clock.now
        rows = try body()
        let d = clock.now - t0
        times.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15)
    }
    times.sort()
    return "| \(name) | \(rows) | \(String(format: "%.2f", times[times.count / 2])) | \(String(format: "%.2f", times[min(times.count - 1, times.count * 95 / 100)])) |"
}

let reader = try TelemetryDatabase.openReadOnly(path: path)
let someTrace = hex(UInt64(requests / 2) &* 0x9E37_79B9_7F4A_7C15 | 1, 16) + hex(UInt64(requests / 2) + 1, 16)
var lines: [String] = []
lines.append(try measure("trace list (newest 50)") { try reader.traces(TraceFilter(limit: 50)).count })
lines.append(try measure("trace list, --service users") { try reader.traces(TraceFilter(service: "users", limit: 50)).count })
lines.append(try measure("trace list, --status error") { try reader.traces(TraceFilter(status: .error, limit: 50)).count })
lines.append(try measure("trace list, --path /api --min-duration 1ms") {
    try reader.traces(TraceFilter(path: "/api", minDurationNanos: 1_000_000, limit: 50)).count
})
lines.append(try measure("trace list, --status 418 (no match: whole table)", runs: 10) { try reader.traces(TraceFilter(status: .code(418), limit: 50)).count })
lines.append(try measure("trace list, attr peer.service=users (a column)") {
    try reader.traces(TraceFilter(attributes: [.init(key: "peer.service", value: "users")], limit: 50)).count
})
lines.append(try measure("trace list, attr http.route=/x (no match: every trace's spans)", runs: 5) {
    try reader.traces(TraceFilter(attributes: [.init(key: "http.route", value: "/x")], limit: 50)).count
})
lines.append(try measure("overview traffic, last minute", runs: 10) {
    try reader.traffic(sinceNanos: now() - 60_000_000_000, nowNanos: now()).count
})
lines.append(try measure("service map, last 15 minutes", runs: 10) {
    try reader.graph(sinceNanos: now() - 900_000_000_000, nowNanos: now()).edges.count
})
lines.append(try measure("trace detail (8 spans + logs)") { try reader.trace(someTrace)?.spans.count ?? -1 })
lines.append(try measure("logs --grep traceparent (newest 200)") { try reader.logs(LogFilter(grep: "traceparent", limit: 200)).count })
// BENCH_KEEP=PATH keeps the file (to measure the API and the UI against it).
if let keep = ProcessInfo.processInfo.environment["BENCH_KEEP"] {
    for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
        try? FileManager.default.removeItem(atPath: keep + suffix)
        try FileManager.default.copyItem(atPath: path + suffix, toPath: keep + suffix)
    }
}
let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0

print("## devmesh store benchmark")
print("")
print("\(counters.spans ?? 0) spans (\(requests) traces of 8 hops) and \(counters.logs ?? 0) log lines written in \(String(format: "%.2f", seconds)) s: **\(Int(Double(counters.spans ?? 0) / seconds)) spans/s** sustained through the writer thread (dropped: \(counters.dropped)); file \(bytes / 1_048_576) MiB (\(bytes / max(1, counters.spans ?? 1)) bytes/span)")
print("")
print("| query (\(try reader.spanCount()) spans in the file) | rows | p50 ms | p95 ms |")
print("| --- | --- | --- | --- |")
for line in lines { print(line) }
