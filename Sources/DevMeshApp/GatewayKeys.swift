import DevMeshAuth
import DevMeshCore
import Foundation

/// The API keys files of the gateway's routes (`auth: {api_keys: FILE}`, relative to the
/// stack's root), read at `up` (an error stops it) and by `devmesh check`.
enum GatewayKeys {
    static func load(_ config: StackConfig) -> (keys: [Int: APIKeys], diagnostics: [Diagnostic], sources: [String: String]) {
        var keys: [Int: APIKeys] = [:]
        var diagnostics: [Diagnostic] = []
        var sources: [String: String] = [:]
        for (index, route) in config.gateway.routes.enumerated() {
            guard case .apiKeys(let file) = route.auth else { continue }
            let path = file.hasPrefix("/") ? file : config.root + "/" + file
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                diagnostics.append(.error(at: route.location, "the API keys file \(file) of this route cannot be read",
                                          hint: "create it with lines `NAME sha256:HEX` (`printf %s \"$KEY\" | sha256sum`), relative to \(config.root)"))
                continue
            }
            let (parsed, problems) = APIKeys.parse(text, file: file)
            keys[index] = parsed
            diagnostics += problems
            sources[file] = text
        }
        return (keys, diagnostics, sources)
    }
}
