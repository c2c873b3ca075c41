import DevMeshCore
import DevMeshHTTP1
import NIOCore

/// What the gateway does with a request on a route with `cache: true`.
enum CacheDecision {
    /// A fresh stored answer: the service is not asked.
    case serve(ResponseCache.Entry)
    /// Ask the service; `conditional` fields revalidate a stored answer.
    case forward(CachePlan, conditional: [(name: String, value: String)])
    /// Not through the cache (the why goes out in `x-devmesh-cache-detail`).
    case bypass(String)
    /// `only-if-cached` and nothing usable is stored: 504 (RFC 9111 §5.2.1.7).
    case unsatisfiable
}

/// A forwarded request's link to the cache: where its answer is stored, and the stored answer
/// it may fall back on.
struct CachePlan {
    let cache: ResponseCache
    let key: ResponseCache.Key
    let service: String
    let path: String
    let credentials: Bool
    /// The stored answer being revalidated (or served stale if the service cannot answer).
    let candidate: ResponseCache.Entry?
    /// The request's fields as the service gets them (for `Vary`).
    let forwarded: [(name: String, value: String)]
}

/// The body of an answer being stored, gathered as it streams to the client.
struct CacheFill {
    let plan: CachePlan
    let status: Int
    let reason: String
    let fields: [HTTPField]
    let rules: CacheRules.Storable
    let varyValues: [String?]
    let chunked: Bool
    var wire: [UInt8] = []
    var overflow = false

    mutating func append(_ bytes: ByteBuffer) {
        guard !overflow else { return }
        if wire.count + bytes.readableBytes > plan.cache.limits.maxEntryBytes {
            overflow = true
            wire = []
            return
        }
        wire.append(contentsOf: bytes.readableBytesView)
    }

    /// Stores the answer once its body arrived whole.
    func finish(now: UInt64) {
        guard !overflow else { return }
        let body = chunked ? ChunkedDecoding.decode(wire) : wire
        plan.cache.store(plan.key, ResponseCache.Entry(
            status: status, reason: reason, fields: fields, body: body, rules: rules, storedAt: now,
            varyValues: varyValues, service: plan.service, path: plan.path))
    }
}

enum CacheStep {
    /// `authenticated`: the route's `auth` or a token identified the caller (credentials that may
    /// not be in a header the rules know, e.g. `?api_key=` or a token in a cookie).
    static func decide(_ cache: ResponseCache, route: Int, scheme: String, service: String, head: HTTP1RequestHead, target: String,
                       edits: HeaderEdits?, authenticated: Bool, now: UInt64) -> CacheDecision {
        let pairs = head.fields.map { (name: $0.name, value: $0.value) }
        let use = CacheRules.request(method: head.method, hasBody: head.framing != .none, fields: pairs)
        guard case .lookup(let revalidate, let maxAge, let onlyIfCached) = use else {
            if case .bypass(let why) = use { return .bypass(why) }
            return .bypass("")
        }
        let key = ResponseCache.key(route: route, scheme: scheme, host: head.host, target: target)
        let credentials = authenticated || CacheRules.carriesCredentials(pairs)
        let forwarded = CacheRules.forwardedFields(pairs, edits: edits)
        var stored = cache.lookup(key, request: forwarded)
        // Stored for a caller without credentials, asked by one with: only what says it is shared.
        if credentials, let e = stored, !e.rules.neverStale, !(e.fields.contains { $0.name.caseInsensitiveEquals("cache-control") && $0.value.lowercased().contains("public") }) {
            stored = nil
        }
        let path = String(head.target.prefix { $0 != "?" })
        let plan = CachePlan(cache: cache, key: key, service: service, path: path, credentials: credentials, candidate: stored,
                             forwarded: forwarded)
        if let e = stored, !revalidate, e.isFresh(now: now, clientMaxAge: maxAge) { return .serve(e) }
        if onlyIfCached { return stored.map { .serve($0) } ?? .unsatisfiable }
        var conditional: [(name: String, value: String)] = []
        if let e = stored {
            if let etag = e.rules.etag { conditional.append(("If-None-Match", etag)) }
            if let modified = e.rules.lastModified { conditional.append(("If-Modified-Since", modified)) }
        }
        return .forward(plan, conditional: conditional)
    }

    /// The answer as the cache writes it: the stored fields (with the route's edits), its own
    /// framing, `Age` and the label; gzipped when the route compresses and the client accepts it.
    static func write(_ entry: ResponseCache.Entry, label: CacheLabel, now: UInt64, headOnly: Bool, close: Bool, clientMinorVersion: Int,
                      keepAliveOn10: Bool, addVia: Bool, edits: HeaderEdits?, compression: CompressionConfig? = nil,
                      acceptEncoding: [String] = [], into out: inout ByteBuffer) {
        var body = entry.body
        var gzipped = false
        var varies = false
        if let compression {
            let decision = ResponseCompression.decide(
                method: headOnly ? "HEAD" : "GET", status: entry.status, acceptEncoding: acceptEncoding,
                fields: entry.fields.map { (name: $0.name, value: $0.value) }, contentLength: entry.body.count, minSize: compression.minSize)
            switch decision {
            case .compress:
                body = GzipStream.gzip(entry.body)
                gzipped = true
                varies = true
            case .asIs(let v): varies = v
            }
        }
        out.writeString("HTTP/1.1 \(entry.status) \(entry.reason)\r\n")
        for field in entry.fields {
            if let edits, edits.drops(field.name) { continue }
            let name = edits?.renamed(field.name) ?? field.name
            if gzipped, field.name.caseInsensitiveEquals("etag") {
                out.writeString("\(name): \(ResponseCompression.weakened(etag: field.value))\r\n")
                continue
            }
            out.writeString("\(name): \(field.value)\r\n")
        }
        if let edits {
            for (name, value) in edits.add { out.writeString("\(name): \(value)\r\n") }
            for (name, value) in edits.append { out.writeString("\(name): \(value)\r\n") }
        }
        if gzipped { out.writeString("Content-Encoding: gzip\r\n") }
        if varies { out.writeString("Vary: Accept-Encoding\r\n") }
        if addVia { out.writeString("Via: 1.1 devmesh\r\n") }
        out.writeString("Age: \(entry.age(now: now))\r\nx-devmesh-cache: \(label.rawValue)\r\n")
        let bodyless = entry.status == 204 || entry.status == 304
        if !bodyless { out.writeString("Content-Length: \(body.count)\r\n") }
        if close {
            out.writeString("Connection: close\r\n")
        } else if clientMinorVersion == 0, keepAliveOn10 {
            out.writeString("Connection: keep-alive\r\n")
        }
        out.writeString("\r\n")
        if !headOnly, !bodyless { out.writeBytes(body) }
    }
}
