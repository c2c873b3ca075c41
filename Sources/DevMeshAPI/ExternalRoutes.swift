import DevMeshCore
import Foundation
import Hummingbird
import NIOCore

/// What the API needs from the running ambassadors.
public protocol ExternalsInspecting: Sendable {
    func externals() -> [ExternalReport]
    /// The external's report after the switch, or nil when there is no such external.
    func setMode(_ mode: ExternalConfig.Mode, of name: String) -> ExternalReport?
}

/// `/api/v1/externals`: the ambassadors and their modes; `PUT /api/v1/externals/NAME/mode`
/// switches one live (`{"mode": "replay"}`).
enum ExternalRoutes {
    struct ModeChange: Decodable {
        var mode: String
    }

    static func add(to router: Router<BasicRequestContext>, externals: (any ExternalsInspecting)?) {
        router.get("/api/v1/externals") { request, _ -> Response in
            try await TelemetryRoutes.answer {
                try TelemetryRoutes.requireOnly([], in: TelemetryRoutes.pairs(request))
                return try AdminAPI.json(externals?.externals() ?? [])
            }
        }

        router.put("/api/v1/externals/:name/mode") { request, context -> Response in
            let name = try context.parameters.require("name")
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: 1024)
            } catch {
                return APIError.response(.contentTooLarge, "a mode change is a small JSON object such as {\"mode\": \"replay\"}")
            }
            let allowed = ExternalConfig.Mode.allCases.map(\.rawValue).joined(separator: ", ")
            guard let change = try? JSONDecoder().decode(ModeChange.self, from: Data(buffer: body)) else {
                return APIError.response(.badRequest, "the body must be a JSON object with `mode` (one of \(allowed)), e.g. {\"mode\": \"replay\"}")
            }
            guard let mode = ExternalConfig.Mode(rawValue: change.mode) else {
                return APIError.response(.badRequest, "`mode` must be one of \(allowed), not `\(change.mode.prefix(40))`")
            }
            guard let report = externals?.setMode(mode, of: name) else {
                let known = externals?.externals().map(\.name) ?? []
                return APIError.response(.notFound, "no external `\(name.prefix(64))` in this stack"
                    + (known.isEmpty ? " (declare one under `external:` in devmesh.yaml)" : "; externals: \(known.joined(separator: ", "))"))
            }
            return try AdminAPI.json(report)
        }
    }
}
