import Foundation
import HTTPTypes
import Hummingbird

/// The admin listener is a localhost tool that a browser talks to, so it defends against the two
/// ways a web page elsewhere could reach it:
/// - DNS rebinding: a request must name a loopback host (`127.0.0.1`, `localhost`, `[::1]`), else
///   421 — a page at `evil.test` that re-resolves to 127.0.0.1 still sends `Host: evil.test`.
/// - Cross-site requests: anything but GET/HEAD needs the stack's token — in `X-Devmesh-Token`
///   (the CLI), or for the web UI in a cookie (`HttpOnly`, `SameSite=Strict`) that a page URL
///   carrying `?token=` sets (`devmesh ui` opens such a URL), together with an `Origin` equal to
///   the admin's own address. A form or fetch from another origin gets 403, and so does a local
///   process that forges `Origin` without the token. `/api/` reads from another site
///   (`Sec-Fetch-Site: cross-site|same-site`) get 403 too; no CORS headers are ever sent.
struct AdminGuard<Context: RequestContext>: RouterMiddleware {
    static var tokenHeader: String { "x-devmesh-token" }

    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        guard Self.isLoopbackHost(host) else {
            return APIError.response(.misdirectedRequest, "devmesh's admin API answers only to 127.0.0.1, localhost or [::1]; this request named host `\(host.prefix(200))`")
        }
        let site = request.headers[HTTPField.Name("sec-fetch-site")!]
        if request.method == .get || request.method == .head {
            if request.uri.path.hasPrefix("/api/"), let site, site == "cross-site" || site == "same-site" {
                return APIError.response(.forbidden, "cross-site read refused (Sec-Fetch-Site: \(site)): the admin API answers only its own UI and the devmesh CLI")
            }
            if let handoff = tokenHandoff(request, host: host) { return handoff }
        } else if let refusal = Self.refusal(request, host: host, token: token) {
            return APIError.response(.forbidden, refusal)
        }
        return try await next(request, context)
    }

    /// The session cookie's name: per port, because cookies are per host and two stacks on
    /// 127.0.0.1 must not overwrite each other's.
    static func cookieName(host: String) -> String {
        let port = host.hasSuffix("]") ? "80" : host.split(separator: ":").last.map(String.init).flatMap { Int($0) }.map(String.init) ?? "80"
        return "devmesh_token_" + port
    }

    /// `GET /page?token=T`: with the right token, the UI's cookie is set and the browser sent to
    /// the same page without the token in its address (nor its history).
    func tokenHandoff(_ request: Request, host: String) -> Response? {
        guard !request.uri.path.hasPrefix("/api/"), let given = request.uri.queryParameters["token"].map(String.init) else { return nil }
        guard Self.constantTimeEqual(given, token) else {
            return APIError.response(.forbidden, "wrong token in the address: open the UI with `devmesh ui` (or without ?token= to look only)")
        }
        let rest = TelemetryRoutes.pairs(request).filter { $0.0 != "token" }
            .map { "\(Self.escaped($0.0))=\(Self.escaped($0.1))" }
        var headers = HTTPFields()
        headers[.location] = request.uri.path + (rest.isEmpty ? "" : "?" + rest.joined(separator: "&"))
        headers[.setCookie] = "\(Self.cookieName(host: host))=\(token); Path=/; HttpOnly; SameSite=Strict"
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }

    /// Percent-encodes all but unreserved ASCII (and `/`, `:`): a value keeps its meaning,
    /// whatever `&`, `=`, `+` or `#` it holds.
    static func escaped(_ text: String) -> String {
        let plain = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/:")
        return text.addingPercentEncoding(withAllowedCharacters: plain) ?? ""
    }

    /// Why a state-changing request is refused, or nil when it may go on.
    static func refusal(_ request: Request, host: String, token: String) -> String? {
        if let site = request.headers[HTTPField.Name("sec-fetch-site")!], site != "same-origin", site != "none" {
            return "cross-site request refused (Sec-Fetch-Site: \(site.prefix(40))): the admin API takes changes only from its own UI or the devmesh CLI"
        }
        if let origin = request.headers[.origin] {
            guard origin.lowercased() == "http://" + host.lowercased() else {
                return "cross-origin request refused (Origin: \(origin.prefix(200))): the admin API takes changes only from its own UI or the devmesh CLI"
            }
            let cookie = Self.cookie(cookieName(host: host), in: request.headers[values: .cookie])
            guard let cookie, constantTimeEqual(cookie, token) else {
                return "this page may look but not change anything: open the UI with `devmesh ui`, which signs it in with the stack's token (or use the CLI)"
            }
            return nil
        }
        guard let given = request.headers[HTTPField.Name(tokenHeader)!], constantTimeEqual(given, token) else {
            return "missing or wrong X-Devmesh-Token: use the devmesh CLI or `devmesh ui`, or read the token from .devmesh/state.json"
        }
        return nil
    }

    static func cookie(_ name: String, in headers: [String]) -> String? {
        for header in headers {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                if let eq = trimmed.firstIndex(of: "="), trimmed[..<eq] == name {
                    return String(trimmed[trimmed.index(after: eq)...])
                }
            }
        }
        return nil
    }

    static func isLoopbackHost(_ authority: String) -> Bool {
        var host = Substring(authority)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            return host[host.index(after: host.startIndex)..<close] == "::1"
        }
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        let lower = host.lowercased()
        return lower == "localhost" || lower == "127.0.0.1"
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// Headers on every admin answer: a strict Content-Security-Policy (only this origin's scripts and
/// styles; no inline code, so a value that slipped into the page unescaped still could not run),
/// no framing, no MIME sniffing, no referrer leaving the machine.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    static var contentSecurityPolicy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            response = APIError.response(error.status, error.body ?? error.status.reasonPhrase)
        } catch {
            // A failed store query, say: still JSON with the reason, so the UI can show it.
            response = APIError.response(.internalServerError, "devmesh failed to answer: \(error)")
        }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("x-frame-options")!] = "DENY"
        response.headers[HTTPField.Name("referrer-policy")!] = "no-referrer"
        response.headers[HTTPField.Name("cross-origin-opener-policy")!] = "same-origin"
        response.headers[HTTPField.Name("cross-origin-resource-policy")!] = "same-origin"
        return response
    }
}

/// JSON error bodies: `{"error": "..."}`.
enum APIError {
    struct Body: Codable { var error: String }

    static func response(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let json = (try? JSONEncoder().encode(Body(error: message))) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }
}
