/// What went through the gateway since `up`, per route and per caller: `devmesh status`, the
/// API (`/api/v1/gateway/usage`) and the UI's Gateway page.
public struct GatewayUsageReport: Sendable, Equatable, Codable {
    /// Latency percentiles in milliseconds (from a histogram with buckets 19% apart: each value
    /// is the upper edge of its bucket, so at most 19% high).
    public struct Latency: Sendable, Equatable, Codable {
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var max: Double

        public init(p50: Double, p90: Double, p99: Double, max: Double) {
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.max = max
        }
    }

    /// Counts of one route or one caller.
    public struct Counts: Sendable, Equatable, Codable {
        public var requests = 0
        /// 5xx, and answers devmesh failed itself.
        public var errors = 0
        /// 4xx other than the two below.
        public var clientErrors = 0
        /// 401: missing or wrong credentials.
        public var unauthenticated = 0
        /// 429 of the route's `rate_limit`.
        public var rateLimited = 0
        public var cacheHits = 0
        public var latency: Latency?

        public init() {}
    }

    public struct Caller: Sendable, Equatable, Codable {
        /// `key` (an API key's name), `user` (Basic), `subject` (a token's `iss/sub`) or
        /// `anonymous` (every request without one, together).
        public var kind: String
        public var name: String
        public var counts: Counts
        /// Requests this caller may still send now under the route's limit (nil: not limited by caller).
        public var remaining: Int?

        public init(kind: String, name: String, counts: Counts, remaining: Int?) {
            self.kind = kind
            self.name = name
            self.counts = counts
            self.remaining = remaining
        }
    }

    public struct RateLimit: Sendable, Equatable, Codable {
        public var requests: Int
        public var per: String
        public var by: String
        /// Keys whose allowance is not whole now (in use), and how much each has left.
        public var active: [Allowance]

        public init(requests: Int, per: String, by: String, active: [Allowance]) {
            self.requests = requests
            self.per = per
            self.by = by
            self.active = active
        }
    }

    public struct Allowance: Sendable, Equatable, Codable {
        public var key: String
        public var remaining: Int
        /// Seconds until the allowance is whole again.
        public var resetSeconds: Int

        public init(key: String, remaining: Int, resetSeconds: Int) {
            self.key = key
            self.remaining = remaining
            self.resetSeconds = resetSeconds
        }
    }

    public struct Route: Sendable, Equatable, Codable {
        /// Position in `gateway.routes`, and how it reads: `shop.localhost/api/orders → orders`.
        public var index: Int
        public var route: String
        public var service: String
        /// `auth` kind, if any: `api_keys`, `basic`, `jwt`.
        public var auth: String?
        public var counts: Counts
        public var callers: [Caller]
        public var rateLimit: RateLimit?

        public init(index: Int, route: String, service: String, auth: String?, counts: Counts, callers: [Caller], rateLimit: RateLimit?) {
            self.index = index
            self.route = route
            self.service = service
            self.auth = auth
            self.counts = counts
            self.callers = callers
            self.rateLimit = rateLimit
        }
    }

    /// Seconds since the Unix epoch when counting started (`up`).
    public var since: Double
    public var routes: [Route]
    /// Requests no route matched (404, 421), and those to automatic hosts (`<service>.localhost`).
    public var unrouted: Counts
    public var automaticHosts: Counts

    public init(since: Double, routes: [Route], unrouted: Counts, automaticHosts: Counts) {
        self.since = since
        self.routes = routes
        self.unrouted = unrouted
        self.automaticHosts = automaticHosts
    }
}
