import Hummingbird
import NIOCore

/// The web UI's files, compiled into the binary (SwiftPM's `embedInCode`: `Assets/` becomes byte
/// arrays), so the UI works offline and the binary stays one file. Each is served with a strong
/// ETag (a hash of its bytes) so a reload costs a 304.
struct WebAsset: Sendable {
    let bytes: ByteBuffer
    let contentType: String
    let etag: String

    init(_ bytes: [UInt8], _ contentType: String) {
        self.bytes = ByteBuffer(bytes: bytes)
        self.contentType = contentType
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        self.etag = "\"" + String(hash, radix: 16) + "\""
    }

    static let index = WebAsset(PackageResources.index_html, "text/html; charset=utf-8")
    static let openAPI = WebAsset(PackageResources.openapi_yaml, "application/yaml; charset=utf-8")
    /// Under `/ui/`.
    static let files: [String: WebAsset] = [
        "app.js": WebAsset(PackageResources.app_js, "text/javascript; charset=utf-8"),
        "app.css": WebAsset(PackageResources.app_css, "text/css; charset=utf-8"),
        "favicon.svg": WebAsset(PackageResources.favicon_svg, "image/svg+xml"),
    ]

    func response(for request: Request) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.eTag] = etag
        // Revalidate every time: a new devmesh build must never run with a stale app.js.
        headers[.cacheControl] = "no-cache"
        if request.headers[.ifNoneMatch] == etag {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentLength] = String(bytes.readableBytes)
        return Response(status: .ok, headers: headers, body: request.method == .head ? .init() : .init(byteBuffer: bytes))
    }
}

/// The UI's pages (one HTML document; the script routes by path, so every page's URL can be
/// shared and reloaded), its files, and the API's OpenAPI document.
enum UIRoutes {
    /// Paths the UI's router knows; each serves the same document.
    static let pages = ["/", "/traces", "/traces/:id", "/compare", "/logs", "/map", "/requests", "/requests/:id", "/policies", "/gateway"]

    static func add(to router: Router<BasicRequestContext>) {
        for page in pages {
            router.get(RouterPath(page)) { request, _ in WebAsset.index.response(for: request) }
        }
        router.get("/ui/:file") { request, context -> Response in
            let name = try context.parameters.require("file")
            guard let asset = WebAsset.files[name] else {
                return APIError.response(.notFound, "no UI file `\(name.prefix(80))`")
            }
            return asset.response(for: request)
        }
        router.get("/favicon.ico") { request, _ in WebAsset.files["favicon.svg"]!.response(for: request) }
        router.get("/api/openapi.yaml") { request, _ in WebAsset.openAPI.response(for: request) }
    }
}
