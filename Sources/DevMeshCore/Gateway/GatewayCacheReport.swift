/// The gateway's response cache as the API and `devmesh cache` show it.
public struct GatewayCacheReport: Sendable, Equatable, Codable {
    public struct Stats: Sendable, Equatable, Codable {
        public var entries = 0
        public var bytes = 0
        public var maxBytes = 0
        public var maxEntryBytes = 0
        public var hits = 0
        public var misses = 0
        public var revalidated = 0
        public var stale = 0
        public var bypassed = 0
        public var stored = 0
        public var evicted = 0
        public var purged = 0

        public init() {}
    }

    /// One stored answer.
    public struct Entry: Sendable, Equatable, Codable {
        public var service: String
        public var path: String
        public var status: Int
        public var bytes: Int
        /// `Age` now, and the freshness lifetime, in seconds.
        public var age: Int
        public var lifetime: Int
        public var fresh: Bool
        /// `name=value` of each `Vary` field this variant answers.
        public var vary: [String]

        public init(service: String, path: String, status: Int, bytes: Int, age: Int, lifetime: Int, fresh: Bool, vary: [String]) {
            self.service = service
            self.path = path
            self.status = status
            self.bytes = bytes
            self.age = age
            self.lifetime = lifetime
            self.fresh = fresh
            self.vary = vary
        }
    }

    public var stats: Stats
    /// Most recently used first.
    public var entries: [Entry]
    /// The routes with `cache: true` (their `host`/`path`).
    public var routes: [String]

    public init(stats: Stats, entries: [Entry], routes: [String]) {
        self.stats = stats
        self.entries = entries
        self.routes = routes
    }
}
