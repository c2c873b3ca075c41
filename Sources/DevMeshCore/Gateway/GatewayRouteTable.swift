/// Where the gateway sends a request, decided from its host and path alone (pure; the proxy asks
/// once per request). The order, most specific first:
/// 1. routes with this exact `host` (longest `path` prefix; a host route without `path` takes all);
/// 2. the automatic host `<service>.localhost` (PRODUCT.md "Gateway hosts");
/// 3. for the gateway's own `hosts` (and 127.0.0.1 / ::1), routes without `host`, longest prefix.
public struct GatewayRouteTable: Sendable {
    /// One decision: the service, the target to forward and the edits to apply.
    public struct Match: Sendable, Equatable {
        public var service: String
        /// Path and query as the service should see them (normalised; `strip_prefix` applied).
        public var target: String
        /// Index into `gateway.routes`; nil for an automatic host.
        public var routeIndex: Int?
        public var requestHeaders: HeaderEdits
        public var responseHeaders: HeaderEdits
        /// Record this exchange for replay (`record`, default true), and redact it (`redact`).
        public var record: Bool = true
        public var redact: Bool = true
        /// The route's `cors` (nil: the gateway adds nothing).
        public var cors: CORSPolicy?
    }

    public enum Miss: Error, Sendable, Equatable {
        /// The host is none the gateway serves.
        case unknownHost(String)
        /// A known host, but no route's path matches.
        case noRoute(host: String, path: String)
    }

    struct Entry: Sendable {
        var index: Int
        var route: RouteConfig
        var prefix: String
        /// Set when the path has `{name}` segments.
        var pattern: PathPattern?
        /// Worked out once: the answer's edits (route edits, `Vary` of versions, deprecation) and CORS.
        var answer = HeaderEdits()
        var cors: CORSPolicy?
        /// Segments of the path, and how many of them are literal (route order).
        var segments = 0
        var literals = 0
    }

    /// Host (lower-case) → its own routes, longest prefix first.
    private var hostRoutes: [String: [Entry]] = [:]
    /// Routes without `host`, longest prefix first.
    private var pathRoutes: [Entry] = []
    /// `<service>.localhost` → service.
    public private(set) var autoHosts: [String: String] = [:]
    /// Names the gateway serves host-less routes for.
    public private(set) var gatewayHosts: Set<String>

    /// `services`: the services the gateway can reach (HTTP services of the stack).
    public init(gateway: GatewayConfig, services: [String]) {
        gatewayHosts = Set(gateway.hosts.map { Self.normalizeHost($0) })
        gatewayHosts.formUnion(["localhost", "127.0.0.1", "::1"])
        for (i, route) in gateway.routes.enumerated() {
            let pattern = PathPattern(route.path ?? "/")
            var entry = Entry(index: i, route: route, prefix: route.path ?? "/", pattern: pattern.hasCaptures ? pattern : nil)
            entry.segments = pattern.segmentCount
            entry.literals = pattern.segmentCount - pattern.names.count
            entry.cors = route.cors?.policy
            // A browser app on a limited route may read how much of its limit is left.
            if route.rateLimit != nil, var cors = entry.cors {
                for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"]
                where !cors.exposeHeaders.contains(where: { $0.caseInsensitiveEqualsASCII(name) }) {
                    cors.exposeHeaders.append(name)
                }
                entry.cors = cors
            }
            if let host = route.host {
                hostRoutes[Self.normalizeHost(host), default: []].append(entry)
            } else {
                pathRoutes.append(entry)
            }
        }
        // The most specific route first: more segments, then more literal segments (a capture
        // never shadows a literal route of the same depth, whatever the lengths of the strings),
        // then the longer prefix; at a tie, versioned routes before the default one, then the
        // config's order.
        let order: (Entry, Entry) -> Bool = { a, b in
            if a.segments != b.segments { return a.segments > b.segments }
            if a.literals != b.literals { return a.literals > b.literals }
            if a.prefix.utf8.count != b.prefix.utf8.count { return a.prefix.utf8.count > b.prefix.utf8.count }
            if (a.route.version != nil) != (b.route.version != nil) { return a.route.version != nil }
            return a.index < b.index
        }
        // Answers of a path with versions vary by every version header used there (caches must know).
        var varyBy: [String: [String: [String]]] = [:]
        for route in gateway.routes {
            if let version = route.version {
                let host = route.host.map(Self.normalizeHost) ?? "", path = route.path ?? "/"
                if !(varyBy[host]?[path]?.contains(version.header) ?? false) { varyBy[host, default: [:]][path, default: []].append(version.header) }
            }
        }
        func answer(_ e: inout Entry) {
            var edits = e.route.responseHeaders
            if let headers = varyBy[e.route.host.map(Self.normalizeHost) ?? ""]?[e.prefix] { edits.append.append(("Vary", headers.joined(separator: ", "))) }
            if let deprecation = e.route.deprecation {
                edits.add.append(("Deprecation", "true"))
                if let sunset = deprecation.sunset { edits.add.append(("Sunset", sunset)) }
                if let link = deprecation.link { edits.append.append(("Link", "<\(link)>; rel=\"deprecation\"")) }
            }
            e.answer = edits
        }
        for i in pathRoutes.indices { answer(&pathRoutes[i]) }
        for key in hostRoutes.keys { for i in hostRoutes[key]!.indices { answer(&hostRoutes[key]![i]) } }
        pathRoutes.sort(by: order)
        for key in hostRoutes.keys { hostRoutes[key]!.sort(by: order) }
        if gateway.autoHosts {
            let guarded = Set(gateway.routes.filter(\.isGuarded).map(\.to))
            for service in services where !guarded.contains(service) {
                let host = "\(service).localhost"
                if hostRoutes[host] == nil { autoHosts[host] = service }
            }
        }
    }

    /// Every exact name a certificate may be issued for (SNI): gateway hosts, route hosts, auto hosts.
    public var servedHosts: Set<String> {
        gatewayHosts.union(hostRoutes.keys).union(autoHosts.keys)
    }

    public func serves(host: String) -> Bool {
        servedHosts.contains(Self.normalizeHost(host))
    }


    /// `target` is the request target in origin form (`/path?query`); `field` looks up a request
    /// header (for `version`).
    public func route(host rawHost: String, target: String, field: (String) -> String? = { _ in nil }) -> Result<Match, Miss> {
        let host = Self.normalizeHost(rawHost)
        let (rawPath, query) = Self.split(target)
        let path = PathNormalizer.removeDotSegments(rawPath)
        func fits(_ e: Entry) -> Bool {
            if let pattern = e.pattern {
                guard pattern.match(path) != nil else { return false }
            } else {
                guard Self.prefix(e.prefix, matches: path) else { return false }
            }
            guard let version = e.route.version else { return true }
            return field(version.header).map { $0.trimmingSpaces == version.value } ?? false
        }
        if let entries = hostRoutes[host] {
            if let e = entries.first(where: fits) { return .success(match(e, path: path, query: query)) }
            return .failure(.noRoute(host: host, path: path))
        }
        if let service = autoHosts[host] {
            return .success(Match(service: service, target: path + query, routeIndex: nil,
                                  requestHeaders: HeaderEdits(), responseHeaders: HeaderEdits()))
        }
        guard gatewayHosts.contains(host) else { return .failure(.unknownHost(host)) }
        if let e = pathRoutes.first(where: fits) { return .success(match(e, path: path, query: query)) }
        return .failure(.noRoute(host: host, path: path))
    }

    private func match(_ e: Entry, path: String, query: String) -> Match {
        var forwarded = path
        if let rewrite = e.route.rewrite {
            // The matched prefix becomes the rewrite, captures put in; the rest of the path follows.
            var head = rewrite
            var rest: Substring
            if let pattern = e.pattern, let (captures, after) = pattern.match(path) {
                head = PathPattern.fill(rewrite, captures)
                rest = after
            } else {
                let trimmed = e.prefix.hasSuffix("/") ? String(e.prefix.dropLast()) : e.prefix
                rest = Substring(path).dropFirst(e.prefix == "/" ? 0 : trimmed.count)
            }
            if head.hasSuffix("/"), rest.hasPrefix("/") { rest = rest.dropFirst() }
            if rest.isEmpty, head.isEmpty { head = "/" }
            forwarded = head + rest
        } else if e.route.stripPrefix, e.prefix != "/" {
            let trimmed = e.prefix.hasSuffix("/") ? String(e.prefix.dropLast()) : e.prefix
            forwarded = String(path.dropFirst(trimmed.count))
            if forwarded.isEmpty { forwarded = "/" }
        }
        return Match(service: e.route.to, target: forwarded + query, routeIndex: e.index,
                     requestHeaders: e.route.requestHeaders, responseHeaders: e.answer,
                     record: e.route.record, redact: e.route.redact, cors: e.cors)
    }

    /// Prefixes match whole segments: `/api` matches `/api` and `/api/x`, never `/apix`.
    static func prefix(_ prefix: String, matches path: String) -> Bool {
        if prefix == "/" || prefix == path { return true }
        guard path.hasPrefix(prefix) else { return false }
        if prefix.hasSuffix("/") { return true }
        return path.utf8.dropFirst(prefix.utf8.count).first == UInt8(ascii: "/")
    }

    /// `/a/b?x=1` → (`/a/b`, `?x=1`).
    static func split(_ target: String) -> (path: String, query: String) {
        guard let q = target.firstIndex(of: "?") else { return (target.isEmpty ? "/" : target, "") }
        let path = String(target[..<q])
        return (path.isEmpty ? "/" : path, String(target[q...]))
    }

    /// Lower-case, without port and trailing dot; IPv6 literals without brackets.
    public static func normalizeHost(_ host: String) -> String {
        var h = Substring(host)
        if h.hasPrefix("[") {
            if let close = h.firstIndex(of: "]") { h = h[h.index(after: h.startIndex)..<close] }
        } else if let colon = h.lastIndex(of: ":"), h.firstIndex(of: ":") == colon {
            h = h[..<colon]
        }
        if h.hasSuffix(".") { h = h.dropLast() }
        return h.lowercased()
    }
}
