/// Cross-origin requests at the gateway (`cors:` on a route), answered as browsers expect: a
/// preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered by the gateway itself,
/// never forwarded; an allowed origin's actual request gets the `Access-Control-*` fields on its
/// answer (the upstream's own are replaced). A disallowed origin gets no CORS field at all.
public struct CORSPolicy: Sendable, Equatable {
    public static let defaultMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    public static let defaultMaxAge = 600

    /// Lower-cased `scheme://host[:port]`, or `*` (any origin; never with credentials).
    public var origins: [String]
    public var methods: [String]
    /// Request headers a preflight may ask for (lower-cased); nil: whatever it asks for.
    public var headers: [String]?
    public var exposeHeaders: [String]
    public var credentials: Bool
    public var maxAgeSeconds: Int

    public init(origins: [String], methods: [String] = CORSPolicy.defaultMethods, headers: [String]? = nil, exposeHeaders: [String] = [],
                credentials: Bool = false, maxAgeSeconds: Int = CORSPolicy.defaultMaxAge) {
        self.origins = origins.map { $0 == "*" ? $0 : $0.lowercased() }
        self.methods = methods.map { $0.uppercased() }
        self.headers = headers?.map { $0.lowercased() }
        self.exposeHeaders = exposeHeaders
        self.credentials = credentials
        self.maxAgeSeconds = maxAgeSeconds
    }

    public enum Verdict: Sendable, Equatable {
        /// No `Origin`: not a cross-origin request; nothing to do.
        case notCrossOrigin
        /// A preflight to answer with these fields (204).
        case preflight(fields: [HTTPFieldPair])
        /// A preflight to refuse (403), and why.
        case preflightDenied(String)
        /// An actual request: forward it, then answer with these fields (empty: origin not allowed).
        case actual(fields: [HTTPFieldPair])
    }

    public struct HTTPFieldPair: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The fields of the upstream's answer that the gateway's own replace.
    public static let answerFields = ["Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers"]

    /// `origin`: the request's `Origin`; `requestMethod`/`requestHeaders`: its
    /// `Access-Control-Request-Method`/`-Headers` (a preflight has the first).
    public func evaluate(method: String, origin: String?, requestMethod: String?, requestHeaders: String?) -> Verdict {
        guard let origin, !origin.isEmpty else { return .notCrossOrigin }
        let allowedOrigin = allows(origin)
        if method == "OPTIONS", let wanted = requestMethod {
            guard allowedOrigin else {
                return .preflightDenied("origin `\(origin.prefix(100))` is not in this route's `cors.origins` (\(origins.joined(separator: ", ")))")
            }
            let wantedMethod = wanted.trimmingSpaces.uppercased()
            guard methods.contains(wantedMethod) else {
                return .preflightDenied("method \(wantedMethod.prefix(20)) is not in this route's `cors.methods` (\(methods.joined(separator: ", ")))")
            }
            let asked = (requestHeaders ?? "").split(separator: ",").map { String($0.trimmingSpaces).lowercased() }.filter { !$0.isEmpty }
            if let headers, let missing = asked.first(where: { !headers.contains($0) }) {
                return .preflightDenied("request header `\(missing.prefix(60))` is not in this route's `cors.headers` (\(headers.joined(separator: ", ")))")
            }
            var fields = originFields(origin)
            fields.append(HTTPFieldPair("Access-Control-Allow-Methods", methods.joined(separator: ", ")))
            if !asked.isEmpty { fields.append(HTTPFieldPair("Access-Control-Allow-Headers", asked.joined(separator: ", "))) }
            fields.append(HTTPFieldPair("Access-Control-Max-Age", String(maxAgeSeconds)))
            fields.append(HTTPFieldPair("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"))
            return .preflight(fields: fields)
        }
        guard allowedOrigin else { return .actual(fields: []) }
        var fields = originFields(origin)
        if !exposeHeaders.isEmpty { fields.append(HTTPFieldPair("Access-Control-Expose-Headers", exposeHeaders.joined(separator: ", "))) }
        return .actual(fields: fields)
    }

    public func allows(_ origin: String) -> Bool {
        origins.contains("*") || origins.contains(origin.lowercased())
    }

    /// The origin echoed (or `*` for any origin without credentials), with `Vary: Origin` when
    /// the answer depends on it.
    func originFields(_ origin: String) -> [HTTPFieldPair] {
        if origins.contains("*"), !credentials { return [HTTPFieldPair("Access-Control-Allow-Origin", "*")] }
        var fields = [HTTPFieldPair("Access-Control-Allow-Origin", origin), HTTPFieldPair("Vary", "Origin")]
        if credentials { fields.append(HTTPFieldPair("Access-Control-Allow-Credentials", "true")) }
        return fields
    }

    /// Why an `origins` entry cannot work, or nil: `*` or `scheme://host[:port]`, no path.
    public static func problem(withOrigin origin: String) -> String? {
        if origin == "*" { return nil }
        guard let scheme = origin.range(of: "://") else {
            return "`\(origin)` is not an origin: write `scheme://host[:port]`, e.g. `https://app.example` or `http://localhost:3000`"
        }
        let rest = origin[scheme.upperBound...]
        if rest.isEmpty || rest.contains("/") || rest.contains("?") || rest.contains("#") {
            return "`\(origin)` is not an origin: no path, query or trailing `/` (browsers send `https://app.example`)"
        }
        if rest.contains("*") { return "`\(origin)`: wildcards inside an origin are not supported; list each origin, or use `*` alone" }
        return nil
    }
}

extension StringProtocol {
    var trimmingSpaces: SubSequence {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
