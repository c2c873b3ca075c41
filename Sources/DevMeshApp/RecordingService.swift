import DevMeshAPI
import DevMeshCore
import DevMeshRecord
import DevMeshStore
import Foundation
import NIOPosix

/// The running stack's recordings for the admin API: lists and details from the store (on NIO's
/// thread pool), and Replay with the stack's own ports, `replay.auth` and ignore rules.
struct RecordingService: RequestReplaying {
    let writer: TelemetryWriter
    let config: StackConfig
    let environment: [String: String]
    let ports: @Sendable () -> StackState.Ports

    func recordings(_ filter: RecordingFilter) async throws -> [RecordingSummary] {
        let database = writer.database
        return try await NIOThreadPool.singleton.runIfActive { try database.recordingSummaries(filter) }
    }

    func recording(id: Int64) async throws -> RecordedExchange? {
        let database = writer.database
        return try await NIOThreadPool.singleton.runIfActive { try database.recording(id: id) }
    }

    func replay(id: Int64, target: String?) async throws -> (any Encodable & Sendable)? {
        guard let exchange = try await recording(id: id) else { return nil }
        // Everything that can fail before the client exists (it must be shut down once made).
        let config = config, environment = environment, ports = ports()
        let prepared: (ReplaySettings, RecordingFinisher, Replayer.Target)
        do {
            // Files are read here (env_file, the redaction key): off the cooperative pool.
            prepared = try await NIOThreadPool.singleton.runIfActive {
                let settings = try ReplaySettings(config: config, environment: environment)
                let finisher = try Replayer.finisher(recording: settings.recording, maxBody: settings.maxBody, environment: environment)
                return (settings, finisher, try Replayer.resolve(target, recordedAt: exchange.service, ports: ports))
            }
        } catch {
            throw ReplayRefused("\(error)")
        }
        let (settings, finisher, resolved) = prepared
        let replayer = Replayer(ports: ports, credentials: ReplayCredentials(headers: settings.credentials),
                                options: DiffOptions(extraIgnoredHeaders: settings.ignoredHeaders, rules: settings.rules),
                                maxBody: settings.maxBody, redaction: finisher, environment: environment)
        var diff = await replayer.replay(exchange, to: resolved)
        await replayer.shutdown()
        diff.warnings += settings.warnings
        return diff
    }
}
