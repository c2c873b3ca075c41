import DevMeshCore
import DevMeshProxy
import DevMeshRecord
import DevMeshTLS

/// Where a stack records exchanges for replay (docs/recording.md): the gateway (each route
/// decides with `record`, default on) and the inbound sidecars of services with `record: true`.
struct MeshRecording: Sendable {
    var gateway: RecordingSettings?
    var services: [String: RecordingSettings] = [:]

    init(gateway: RecordingSettings? = nil, services: [String: RecordingSettings] = [:]) {
        self.gateway = gateway
        self.services = services
    }

    init(config: StackConfig) {
        let maxBody = config.recording.maxBody
        gateway = RecordingSettings(maxBody: maxBody, redact: true)
        for service in config.services where service.record && service.protocol == .http {
            services[service.name] = RecordingSettings(maxBody: maxBody, redact: service.redact)
        }
    }

    /// The redactor of this user (key in `$DEVMESH_HOME`) with the stack's extra names.
    static func redactor(config: StackConfig, environment: [String: String]) throws -> Redactor {
        do {
            return try redactor(recording: config.recording, environment: environment)
        } catch {
            throw StackRunner.Refusal(message: error.description, hint: nil)
        }
    }

    static func redactor(recording: RecordingConfig, environment: [String: String]) throws(Replayer.Failure) -> Redactor {
        let home = DevMeshHome.resolve(environment: environment)
        let key: [UInt8]
        do {
            key = try RedactionKey.loadOrCreate(home: home)
        } catch {
            throw Replayer.Failure(description: "the redaction key \(RedactionKey.path(home: home)) cannot be used: \(error)\n  hint: recordings are redacted with it; fix its mode (0600) or move it away so devmesh creates a new one")
        }
        return Redactor(key: key, headers: Redactor.defaultHeaders.union(recording.redactHeaders.map { $0.lowercased() }),
                        fields: Redactor.defaultFields.union(recording.redactFields),
                        queryParameters: Redactor.defaultQueryParameters.union(recording.redactQuery))
    }
}
