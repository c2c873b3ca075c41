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
                case .unavailable(let why) where Self.isRemote(source):
                    warnings.append("\(auth.id): the JWKS of `\(rule.issuer)` could not be fetched (\(why)); it is fetched again when a token needs it (at most every 10 s), and its tokens are refused (401) until then")
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

/// Fetches one remote JWKS again on demand, for `RequestAuthenticator`: at most once per
/// `minimumInterval` per URL, and one fetch at a time (requests that need it wait for the same
/// fetch), so a stream of tokens with an unknown `kid` cannot make devmesh hammer the issuer.
actor JWKSRefresher {
    let fetcher: JWKSFetcher
    let store: JWKSStore
    let minimumInterval: Duration
    private var last: [String: ContinuousClock.Instant] = [:]
    private var inFlight: [String: Task<Bool, Never>] = [:]

    init(fetcher: JWKSFetcher, store: JWKSStore, minimumInterval: Duration = .seconds(10)) {
        self.fetcher = fetcher
        self.store = store
        self.minimumInterval = minimumInterval
    }

    /// True when a fetch ran (now, or the one this call waited for) and stored keys.
    func refresh(_ source: String) async -> Bool {
        if let running = inFlight[source] { return await running.value }
        let now = ContinuousClock.now
        if let previous = last[source], now - previous < minimumInterval { return false }
        last[source] = now
        let fetcher = self.fetcher, store = self.store
        let task = Task<Bool, Never> {
            let entry = await fetcher.fetch(source: source)
            store.update(source, with: entry)
            if case .keys = entry { return true }
            return false
        }
        inFlight[source] = task
        let result = await task.value
        inFlight[source] = nil
        return result
    }
}

extension JWKSFetcher {
    /// A remote JWKS by its URL (the store's key for it).
    func fetch(source: String) async -> JWKSStore.Entry {
        switch await read(source) {
        case .success(let text):
            do { return .keys(try await JWKSKeys.parse(text)) } catch { return .unavailable(error.description) }
        case .failure(let why):
            return .unavailable(why.description)
        }
    }
}
