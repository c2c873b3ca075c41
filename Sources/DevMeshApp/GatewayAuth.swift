import DevMeshAuth
import DevMeshCore
import DevMeshPolicy
import DevMeshProxy
import Foundation

/// The credentials of the gateway's routes, read at `up` (an error stops it) and by `devmesh
/// check`: API keys files (`auth: {api_keys: FILE}`) and htpasswd files (`auth: {basic: FILE}`),
/// relative to the stack's root; `auth: {jwt: ns/name}` must name a RequestAuthentication of the
/// policy files.
struct GatewayAuth {
    enum Credentials {
        case apiKeys(APIKeys)
        case basic(BasicCredentials)
        case jwt(reference: String)
    }

    var routes: [Int: Credentials] = [:]
    var diagnostics: [Diagnostic] = []
    var sources: [String: String] = [:]

    static func load(_ config: StackConfig, authentications: [RequestAuthentication]?) -> GatewayAuth {
        var out = GatewayAuth()
        for (index, route) in config.gateway.routes.enumerated() {
            switch route.auth {
            case nil:
                continue
            case .apiKeys(let file)?:
                guard let text = out.read(file, config, route, what: "API keys",
                                          hint: "create it with lines `NAME sha256:HEX` (`printf %s \"$KEY\" | sha256sum`)") else { continue }
                let (parsed, problems) = APIKeys.parse(text, file: file)
                out.routes[index] = .apiKeys(parsed)
                out.diagnostics += problems
            case .basic(let file)?:
                guard let text = out.read(file, config, route, what: "htpasswd",
                                          hint: "create it with `htpasswd -cB \(file) USER` (Debian's apache2-utils)") else { continue }
                let (parsed, problems) = BasicCredentials.parse(text, file: file)
                out.routes[index] = .basic(parsed)
                out.diagnostics += problems
            case .jwt(let reference)?:
                let known = authentications ?? []
                guard let found = known.first(where: { $0.id == reference }) else {
                    let names = known.map(\.id).sorted()
                    out.diagnostics.append(.error(
                        at: route.location, "no RequestAuthentication `\(reference)` in the policy files",
                        hint: authentications == nil
                            ? "list the folder or file that declares it under `policies:` (docs/policies.md)"
                            : names.isEmpty ? "declare one (kind: RequestAuthentication, metadata: {namespace, name}) in a policy file"
                            : "known: \(names.joined(separator: ", "))"))
                    continue
                }
                if found.jwtRules.isEmpty {
                    out.diagnostics.append(.error(at: route.location, "the RequestAuthentication `\(reference)` has no jwtRules: no token could pass",
                                                  hint: "give it an issuer and its keys (docs/policies.md)"))
                    continue
                }
                out.routes[index] = .jwt(reference: reference)
            }
        }
        return out
    }

    private mutating func read(_ file: String, _ config: StackConfig, _ route: RouteConfig, what: String, hint: String) -> String? {
        let path = file.hasPrefix("/") ? file : config.root + "/" + file
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            diagnostics.append(.error(at: route.location, "the \(what) file \(file) of this route cannot be read",
                                      hint: "\(hint), relative to \(config.root)"))
            return nil
        }
        sources[file] = text
        return text
    }

    /// What the gateway's data plane enforces, per route.
    func routing(policies: MeshPolicies?) -> [Int: RouteAuthentication] {
        routes.mapValues { credentials in
            switch credentials {
            case .apiKeys(let keys): .apiKeys(keys)
            case .basic(let users): .basic(users, realm: "devmesh")
            case .jwt(let reference): .jwt(policies?.tokenGate(reference: reference) ?? RouteTokenGate(nil), reference: reference)
            }
        }
    }
}
