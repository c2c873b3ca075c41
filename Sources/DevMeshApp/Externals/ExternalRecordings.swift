import DevMeshCore
import DevMeshRecord
import DevMeshStore
import NIOPosix

/// The recordings an ambassador answers from in `replay` modes: read from the stack's store (on
/// NIO's thread pool), matched against the call redacted exactly as recordings are, so secrets
/// compare by their markers and never leave the process in clear.
struct ExternalRecordings: Sendable {
    enum Lookup: Sendable {
        case match(RecordedExchange)
        case miss(closest: [RecordingMatcher.Near])
        case unavailable(String)
    }

    /// nil: no store (telemetry off) — every lookup misses.
    let database: TelemetryDatabase?
    let finisher: RecordingFinisher
    var maxBody: Int { finisher.maxBody }

    func redact(target: String) -> String { finisher.redact(target: target) }

    /// Candidates with the call's path first (newest first), then the newest of the external for
    /// the closest-recording hints.
    func find(_ call: CapturedExchange, workload: String, matcher: RecordingMatcher) async -> Lookup {
        guard let database else { return .unavailable("telemetry is off (`--no-telemetry`), so nothing is recorded") }
        let finisher = finisher
        do {
            return try await NIOThreadPool.singleton.runIfActive {
                let redacted = finisher.finish(call)
                let path = String(redacted.target.prefix { $0 != "?" })
                let samePath = try database.recordings(RecordingFilter(service: workload, path: path, limit: 200))
                    .filter { String($0.target.prefix { $0 != "?" }) == path }
                if case .match(let found) = matcher.match(redacted, among: samePath) { return .match(found) }
                let recent = try database.recordings(RecordingFilter(service: workload, limit: 50))
                var seen = Set(samePath.compactMap(\.id))
                let all = samePath + recent.filter { seen.insert($0.id ?? -1).inserted }
                switch matcher.match(redacted, among: all) {
                case .match(let found): return .match(found)
                case .miss(let closest): return .miss(closest: closest)
                }
            }
        } catch {
            return .unavailable("\(error)")
        }
    }
}
