/// When the gateway gzips an answer (a route with `compress`): the client accepts gzip, the
/// service did not encode it already, the type compresses, and it is big enough to be worth it.
public enum ResponseCompression {
    /// Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*` with a q-value above 0;
    /// an explicit `gzip;q=0` refuses it even when `*` is allowed).
    public static func acceptsGzip(_ values: [String]) -> Bool {
        var gzip: Double?
        var star: Double?
        for value in values {
            for item in value.split(separator: ",") {
                let parts = item.split(separator: ";")
                guard let coding = parts.first?.trimmingASCIISpaces().lowercased(), !coding.isEmpty else { continue }
                var q = 1.0
                for p in parts.dropFirst() {
                    let kv = p.trimmingASCIISpaces()
                    if kv.lowercased().hasPrefix("q=") { q = Double(kv.dropFirst(2)) ?? 0 }
                }
                if coding == "gzip" || coding == "x-gzip" { gzip = max(gzip ?? 0, q) } else if coding == "*" { star = q }
            }
        }
        if let gzip { return gzip > 0 }
        return (star ?? 0) > 0
    }

    /// Media types worth compressing: text, and the structured ones sent as text.
    public static func isCompressible(contentType: String?) -> Bool {
        guard let type = contentType?.split(separator: ";").first?.trimmingASCIISpaces().lowercased(), !type.isEmpty else { return false }
        if type.hasPrefix("text/") { return !type.hasPrefix("text/event-stream") }
        if type.hasSuffix("+json") || type.hasSuffix("+xml") { return true }
        return ["application/json", "application/javascript", "application/x-javascript", "application/xml", "application/ld+json",
                "application/graphql-response+json", "application/x-ndjson", "application/wasm", "application/manifest+json",
                "image/svg+xml", "application/x-yaml", "application/yaml", "application/toml", "application/rtf"].contains(type)
    }

    public enum Decision: Equatable, Sendable {
        case compress
        /// Not compressed; `varies`: the answer still depends on `Accept-Encoding` (add `Vary`).
        case asIs(varies: Bool)
    }

    /// `fields`: the answer's; `contentLength`: nil when not known (chunked).
    public static func decide(method: String, status: Int, acceptEncoding: [String], fields: [(name: String, value: String)],
                              contentLength: Int?, minSize: Int) -> Decision {
        func first(_ name: String) -> String? { fields.first { $0.name.caseInsensitiveEqualsASCII(name) }?.value }
        guard isCompressible(contentType: first("content-type")) else { return .asIs(varies: false) }
        if let encoding = first("content-encoding"), encoding.lowercased() != "identity" { return .asIs(varies: false) }
        if CacheDirectives(fields.filter { $0.name.caseInsensitiveEqualsASCII("cache-control") }.map(\.value)).noTransform {
            return .asIs(varies: false)
        }
        if status < 200 || status == 204 || status == 206 || status == 304 { return .asIs(varies: false) }
        if let n = contentLength, n < minSize { return .asIs(varies: false) }
        // HEAD: the length of the gzipped body is not known without making it.
        guard method != "HEAD", acceptsGzip(acceptEncoding) else { return .asIs(varies: true) }
        return .compress
    }

    /// A strong ETag names the exact bytes; the gzipped bytes are other bytes (RFC 9110 §8.8.1).
    public static func weakened(etag: String) -> String {
        etag.hasPrefix("W/") ? etag : "W/" + etag
    }
}
