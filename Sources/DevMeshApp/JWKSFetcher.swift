import AsyncHTTPClient
import DevMeshAuth
import DevMeshPolicy
import Foundation
import NIOCore

/// Loads the issuers' keys of the RequestAuthentications: inline `jwks`, or `jwksUri` — an
/// http(s) URL fetched with a timeout (async-http-client, as PRODUCT.md asks of devmesh's own
/// outbound HTTP), or a file path (relative paths from the stack's root, `file://` too).
/// URLs are refreshed periodically; a failed refresh keeps the keys that worked.
struct JWKSFetcher: Sendable {
    let root: String
    var client: HTTPClient = .shared
    var timeout: TimeAmount = .seconds(5)
    /// Istio's default refresh interval for remote JWKS.
    static let refreshInterval: Duration = .seconds(20 * 60)
    static let maxBytes = 1 << 20

    /// Loads every source the rules name; returns one warning per source that failed.
    func load(_ authentications: [RequestAuthentication], into store: JWKSStore, onlyRemote: Bool = false) async -> [String] {
        var warnings: [String] = []
        var done: Set<String> = []
        for auth in authentications {
            for rule in auth.jwtRules {
                guard let source = RequestAuthenticator.source(of: rule), !done.contains(source) else { continue }
                done.insert(source)
                if onlyRemote, !Self.isRemote(source) { continue }
                let entry = await fetch(rule)
                store.update(source, with: entry)
                switch entry {
                case .unavailable(let why):
                    warnings.append("\(auth.id): the JWKS of `\(rule.issuer)` could not be loaded (\(why)); its tokens are refused (401) until it can")
                case .keys(let keys):
                    for skipped in keys.skipped { warnings.append("\(auth.id): the JWKS of `\(rule.issuer)`: \(skipped) (skipped)") }
                }
            }
        }
        return warnings
    }

    static func isRemote(_ source: String) -> Bool { source.hasPrefix("http://") || source.hasPrefix("https://") }

    func fetch(_ rule: RequestAuthentication.JWTRule) async -> JWKSStore.Entry {
        let text: String
        if let inline = rule.jwks {
            text = inline
        } else if let uri = rule.jwksUri {
            switch await read(uri) {
            case .success(let t): text = t
            case .failure(let why): return .unavailable(why.description)
            }
        } else {
            return .unavailable("the rule names neither `jwks` nor `jwksUri`")
        }
        do {
            return .keys(try await JWKSKeys.parse(text))
        } catch {
            return .unavailable(error.description)
        }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    func read(_ uri: String) async -> Result<String, Failure> {
        if Self.isRemote(uri) {
            do {
                var request = HTTPClientRequest(url: uri)
                request.headers.add(name: "Accept", value: "application/json")
                let response = try await client.execute(request, timeout: timeout)
                guard response.status == .ok else { return .failure(Failure(description: "\(uri) answered \(response.status.code)")) }
                let body = try await response.body.collect(upTo: Self.maxBytes)
                return .success(String(buffer: body))
            } catch {
                return .failure(Failure(description: "\(uri): \(error)"))
            }
        }
        var path = uri.hasPrefix("file://") ? String(uri.dropFirst("file://".count)) : uri
        if !path.hasPrefix("/") { path = root + "/" + path }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(Failure(description: "cannot read \(path)"))
        }
        guard data.count <= Self.maxBytes else { return .failure(Failure(description: "\(path) is larger than 1 MiB")) }
        return .success(String(decoding: data, as: UTF8.self))
    }
}
