import Foundation
import HTTPTypes
import Hummingbird

/// The admin listener is a localhost tool that a browser talks to, so it defends against the two
/// ways a web page elsewhere could reach it:
/// - DNS rebinding: a request must name a loopback host (`127.0.0.1`, `localhost`, `[::1]`), else
///   421 — a page at `evil.test` that re-resolves to 127.0.0.1 still sends `Host: evil.test`.
/// - Cross-site requests: anything but GET/HEAD must come either from the CLI (the stack's token
///   in `X-Devmesh-Token`) or from this UI's own origin (`Origin` equal to the admin's own
///   address; `Sec-Fetch-Site`, when sent, `same-origin`). A form or fetch from another origin
///   gets 403. No CORS headers are ever sent, so other origins cannot read answers either.
struct AdminGuard<Context: RequestContext>: RouterMiddleware {
    static var tokenHeader: String { "x-devmesh-token" }

    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        guard Self.isLoopbackHost(host) else {
            return APIError.response(.misdirectedRequest, "devmesh's admin API answers only to 127.0.0.1, localhost or [::1]; this request named host `\(host.prefix(200))`")
        }
        if request.method != .get, request.method != .head {
            if let refusal = Self.refusal(request, host: host, token: token) {
                return APIError.response(.forbidden, refusal)
            }
        }
        return try await next(request, context)
    }

    /// Why a state-changing request is refused, or nil when it may go on.
    static func refusal(_ request: Request, host: String, token: String) -> String? {
        let origin = request.headers[.origin]
        if let site = request.headers[HTTPField.Name("sec-fetch-site")!], site != "same-origin", site != "none" {
            return "cross-site request refused (Sec-Fetch-Site: \(site.prefix(40))): the admin API takes changes only from its own UI or the devmesh CLI"
        }
        if let origin {
            guard origin.lowercased() == "http://" + host.lowercased() else {
                return "cross-origin request refused (Origin: \(origin.prefix(200))): the admin API takes changes only from its own UI or the devmesh CLI"
            }
            return nil
        }
        guard let given = request.headers[HTTPField.Name(tokenHeader)!], constantTimeEqual(given, token) else {
            return "missing or wrong X-Devmesh-Token: use the devmesh CLI or the web UI, or read the token from .devmesh/state.json"
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
