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
        let settings: ReplaySettings
        do {
            settings = try ReplaySettings(config: config, environment: environment)
        } catch {
            throw ReplayRefused("\(error)")
        }
        let replayer = Replayer(ports: ports(), credentials: ReplayCredentials(headers: settings.credentials),
                                options: DiffOptions(extraIgnoredHeaders: settings.ignoredHeaders, rules: settings.rules),
                                maxBody: settings.maxBody, recording: settings.recording, environment: environment)
        let resolved: Replayer.Target
        do {
            resolved = try replayer.resolve(target, recordedAt: exchange.service)
        } catch {
            throw ReplayRefused("\(error)")
        }
        var diff = await replayer.replay(exchange, to: resolved)
        await replayer.shutdown()
        diff.warnings += settings.warnings
        return diff
    }
}
