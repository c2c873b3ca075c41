import DevMeshCore
import Foundation

extension AdminClient {
    /// The running stack's externals and their ambassadors' state.
    public func externals() async throws -> [ExternalReport] {
        try await get("/api/v1/externals", as: [ExternalReport].self) ?? []
    }

    /// Switches an external's mode until the stack stops.
    public func setExternalMode(_ name: String, to mode: ExternalConfig.Mode) async throws -> ExternalReport {
        let escaped = name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name
        let data = try await send(.PUT, "/api/v1/externals/\(escaped)/mode", json: try JSONEncoder().encode(["mode": mode.rawValue]))
        return try JSONDecoder().decode(ExternalReport.self, from: data)
    }
}
