import Foundation
import HTTPTypes
import Hummingbird

/// Admin requests must name a loopback host (defeats DNS rebinding), and requests that change
/// anything must carry the stack's token (defeats cross-site POSTs from a browser: a custom header
/// forces a CORS preflight, which this API never grants).
struct AdminGuard<Context: RequestContext>: RouterMiddleware {
    static var tokenHeader: String { "x-devmesh-token" }

    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        guard Self.isLoopbackHost(host) else {
            return APIError.response(.forbidden, "devmesh's admin API answers only to 127.0.0.1, localhost or [::1]; this request named host `\(host)`")
        }
        if request.method != .get, request.method != .head {
            let given = request.headers[HTTPField.Name(Self.tokenHeader)!]
            guard let given, constantTimeEqual(given, token) else {
                return APIError.response(.forbidden, "missing or wrong X-Devmesh-Token: use the devmesh CLI, or read the token from .devmesh/state.json")
            }
        }
        return try await next(request, context)
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

    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// JSON error bodies: `{"error": "..."}`.
enum APIError {
    struct Body: Codable { var error: String }

    static func response(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let json = (try? JSONEncoder().encode(Body(error: message))) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }
}
