/// What a shared cache may do with a request and a response (the subset of RFC 9111 the
/// gateway implements; docs/gateway.md lists it). Pure: the data plane asks, then acts.
public enum CacheRules {
    /// How a request may use the cache.
    public enum RequestUse: Sendable, Equatable {
        /// Not through the cache at all (`no-store`, a method other than GET/HEAD, a body, …).
        case bypass(String)
        /// Look up; `revalidate`: a stored answer must be confirmed first (`no-cache`,
        /// `max-age=0`, `Pragma: no-cache`); `maxAge`: the oldest answer the client takes.
        case lookup(revalidate: Bool, maxAge: Int?, onlyIfCached: Bool)
    }

    /// `fields`: the request's fields as received (name, value).
    public static func request(method: String, hasBody: Bool, fields: [(name: String, value: String)]) -> RequestUse {
        guard method == "GET" || method == "HEAD" else { return .bypass("\(method) is not cached") }
        guard !hasBody else { return .bypass("a request with a body is not cached") }
        let directives = CacheDirectives(values(fields, "cache-control"))
        if directives.noStore { return .bypass("the request says no-store") }
        let pragma = values(fields, "pragma").contains { $0.lowercased().contains("no-cache") } && values(fields, "cache-control").isEmpty
        // A client's own conditional request is passed through: its validators, its answer.
        if fields.contains(where: { isConditional($0.name) }) { return .bypass("the client sent its own conditional request") }
        return .lookup(revalidate: directives.noCache || pragma || directives.maxAge == 0,
                       maxAge: directives.maxAge, onlyIfCached: directives.onlyIfCached)
    }

    static func isConditional(_ name: String) -> Bool {
        ["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range"]
            .contains { name.caseInsensitiveEqualsASCII($0) }
    }

    /// Whether a request carries credentials: then a shared cache stores (and serves) only answers
    /// that say so (`public`, `s-maxage`, `must-revalidate`; RFC 9111 §3.5). The gateway counts
    /// API keys as credentials too.
    public static func carriesCredentials(_ fields: [(name: String, value: String)]) -> Bool {
        fields.contains { $0.name.caseInsensitiveEqualsASCII("authorization") || $0.name.caseInsensitiveEqualsASCII("x-api-key") }
    }

    /// A response the cache may keep, and for how long it is fresh.
    public struct Storable: Sendable, Equatable {
        /// Freshness lifetime in seconds (0: stale at once, revalidated on every use).
        public var lifetime: Int
        /// `Age` it arrived with.
        public var initialAge: Int
        /// `no-cache`: every use is revalidated first.
        public var alwaysRevalidate: Bool
        /// `must-revalidate`/`proxy-revalidate`/`s-maxage`/`no-cache`: never served stale, even when the service is down.
        public var neverStale: Bool
        public var etag: String?
        public var lastModified: String?
        /// Request fields named by `Vary` (lower-cased); nil never: `Vary: *` is not storable.
        public var vary: [String]

        public var hasValidator: Bool { etag != nil || lastModified != nil }

        public init(lifetime: Int, initialAge: Int, alwaysRevalidate: Bool, neverStale: Bool, etag: String?, lastModified: String?,
                    vary: [String]) {
            self.lifetime = lifetime
            self.initialAge = initialAge
            self.alwaysRevalidate = alwaysRevalidate
            self.neverStale = neverStale
            self.etag = etag
            self.lastModified = lastModified
            self.vary = vary
        }
    }

    /// Statuses a cache may store with explicit freshness (RFC 9110 §15.1's heuristically
    /// cacheable ones, plus 302/307 which need explicit freshness anyway).
    static let storableStatuses: Set<Int> = [200, 203, 204, 300, 301, 302, 307, 308, 404, 405, 410, 414, 501]

    /// `now`: Unix seconds, for `Expires`.
    public static func response(status: Int, fields: [(name: String, value: String)], requestHadCredentials: Bool,
                                now: Int64) -> Result<Storable, NotStored> {
        guard storableStatuses.contains(status) else { return .failure(NotStored("status \(status) is not stored")) }
        let cc = CacheDirectives(values(fields, "cache-control"))
        if cc.noStore { return .failure(NotStored("the response says no-store")) }
        if cc.isPrivate { return .failure(NotStored("the response is private")) }
        if fields.contains(where: { $0.name.caseInsensitiveEqualsASCII("set-cookie") }) {
            return .failure(NotStored("the response sets a cookie"))
        }
        if requestHadCredentials, !(cc.isPublic || cc.sMaxAge != nil || cc.mustRevalidate) {
            return .failure(NotStored("the request carried credentials and the response is not public (add Cache-Control: public or s-maxage)"))
        }
        var vary: [String] = []
        for value in values(fields, "vary") {
            for name in value.split(separator: ",") {
                let n = name.trimmingASCIISpaces().lowercased()
                if n == "*" { return .failure(NotStored("the response says Vary: *")) }
                if !n.isEmpty, !vary.contains(n) { vary.append(n) }
            }
        }
        let etag = values(fields, "etag").first
        let lastModified = values(fields, "last-modified").first
        var lifetime: Int?
        if let s = cc.sMaxAge {
            lifetime = s
        } else if let m = cc.maxAge {
            lifetime = m
        } else if let expires = values(fields, "expires").first {
            // An invalid date (`0`, most often) means already expired.
            let date = values(fields, "date").first.flatMap(HTTPDate.parse) ?? now
            lifetime = HTTPDate.parse(expires).map { max(0, Int(clamping: $0 - date)) } ?? 0
        }
        if lifetime == nil, etag == nil, lastModified == nil {
            return .failure(NotStored("the response has no max-age, s-maxage, Expires, ETag or Last-Modified"))
        }
        let age = values(fields, "age").first.flatMap { CacheDirectives.seconds(Substring($0.trimmingCharacters())) } ?? 0
        return .success(Storable(lifetime: lifetime ?? 0, initialAge: age, alwaysRevalidate: cc.noCache,
                                 neverStale: cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxAge != nil || cc.noCache,
                                 etag: etag, lastModified: lastModified, vary: vary))
    }

    public struct NotStored: Error, Sendable, Equatable {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    static func values(_ fields: [(name: String, value: String)], _ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveEqualsASCII(name) }.map(\.value)
    }

    /// The request's fields as the service gets them: the client's, with the route's (and the
    /// gateway's) edits applied — what `Vary` is about (`Vary: X-Auth-User` must tell users apart).
    public static func forwardedFields(_ fields: [(name: String, value: String)], edits: HeaderEdits?) -> [(name: String, value: String)] {
        guard let edits else { return fields }
        var out = fields.filter { f in
            !edits.remove.contains { $0.caseInsensitiveEqualsASCII(f.name) } && !edits.add.contains { $0.name.caseInsensitiveEqualsASCII(f.name) }
        }
        out += edits.add.map { (name: $0.name, value: $0.value) }
        return out
    }

    /// The value a request has for a `Vary` field: all its fields of that name, joined, with
    /// spaces around commas removed (`gzip, br` and `gzip,br` select the same answer).
    public static func varyValue(_ fields: [(name: String, value: String)], _ name: String) -> String? {
        let all = values(fields, name)
        guard !all.isEmpty else { return nil }
        return all.joined(separator: ",").split(separator: ",").map { $0.trimmingASCIISpaces() }.joined(separator: ",")
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(Substring(self).trimmingASCIISpaces())
    }
}
