import DevMeshCore
import DevMeshHTTP1
import NIOConcurrencyHelpers
import NIOCore

/// The gateway's shared response cache (routes with `cache: true`): answers kept in memory,
/// bounded by bytes, least recently used evicted first; shared by every event loop and both
/// gateway ports. What may be stored and for how long is `CacheRules`' call.
public final class ResponseCache: Sendable {
    public struct Limits: Sendable, Equatable {
        /// All entries together (bodies and fields).
        public var maxBytes: Int = 64 << 20
        /// One answer; a bigger one streams through and is not kept.
        public var maxEntryBytes: Int = 4 << 20

        public init() {}
    }

    /// One stored answer (a variant, when the service varies by request fields).
    public struct Entry: Sendable {
        public var status: Int
        public var reason: String
        /// End-to-end fields as the service sent them, without framing, hop-by-hop fields and `Age`.
        public var fields: [HTTPField]
        public var body: [UInt8]
        public var rules: CacheRules.Storable
        /// Uptime (nanoseconds) when stored or last revalidated.
        public var storedAt: UInt64
        /// The request's values of the `Vary` fields this variant answers.
        public var varyValues: [String?]
        /// Service and client path, for purges and the stats page.
        public var service: String
        public var path: String
        var lastUsed: UInt64 = 0

        var size: Int { body.count + fields.reduce(256) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 } }

        /// `Age` now: what it arrived with plus the time spent here (RFC 9111 §4.2.3).
        public func age(now: UInt64) -> Int {
            rules.initialAge + Int((now &- storedAt) / 1_000_000_000)
        }

        public func isFresh(now: UInt64, clientMaxAge: Int?) -> Bool {
            let a = age(now: now)
            if rules.alwaysRevalidate || a >= rules.lifetime { return false }
            if let m = clientMaxAge, a > m { return false }
            return true
        }
    }

    struct Key: Hashable {
        var route: Int
        /// `https` or `http`: the two ports' answers may differ (redirects, `X-Forwarded-Proto`).
        var scheme: String
        var host: String
        var target: String
    }

    /// Variants kept per URL (`Vary: User-Agent` would otherwise make one per client).
    static let maxVariants = 16

    public typealias Stats = GatewayCacheReport.Stats

    private struct State {
        var entries: [Key: [Entry]] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        var stats = Stats()
    }

    public let limits: Limits
    private let state = NIOLockedValueBox(State())

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    static func key(route: Int, scheme: String = "https", host: String, target: String) -> Key {
        Key(route: route, scheme: scheme, host: host.lowercased(), target: target)
    }

    /// A request that changes the resource (RFC 9111 §4.4): its stored answers go.
    func invalidate(_ key: Key) {
        state.withLockedValue { s in
            guard let variants = s.entries.removeValue(forKey: key) else { return }
            for v in variants { s.bytes -= v.size }
            s.stats.purged += variants.count
        }
    }

    /// The variant of this request, if stored (fresh or not: the caller decides).
    func lookup(_ key: Key, request pairs: [(name: String, value: String)]) -> Entry? {
        state.withLockedValue { s in
            guard var variants = s.entries[key] else { return nil }
            guard let i = variants.firstIndex(where: { e in
                zip(e.rules.vary, e.varyValues).allSatisfy { CacheRules.varyValue(pairs, $0) == $1 }
            }) else { return nil }
            s.clock += 1
            variants[i].lastUsed = s.clock
            s.entries[key] = variants
            return variants[i]
        }
    }

    func store(_ key: Key, _ entry: Entry) {
        var entry = entry
        guard entry.size <= limits.maxEntryBytes else { return }
        state.withLockedValue { s in
            s.clock += 1
            entry.lastUsed = s.clock
            var variants = s.entries[key] ?? []
            if let i = variants.firstIndex(where: { $0.rules.vary == entry.rules.vary && $0.varyValues == entry.varyValues }) {
                s.bytes -= variants[i].size
                variants.remove(at: i)
            }
            // A service that changed what it varies by: the old variants no longer select anything.
            variants.removeAll { old in
                guard old.rules.vary != entry.rules.vary else { return false }
                s.bytes -= old.size
                return true
            }
            if variants.count >= Self.maxVariants, let oldest = variants.indices.min(by: { variants[$0].lastUsed < variants[$1].lastUsed }) {
                s.bytes -= variants[oldest].size
                variants.remove(at: oldest)
                s.stats.evicted += 1
            }
            variants.append(entry)
            s.entries[key] = variants
            s.bytes += entry.size
            s.stats.stored += 1
            if s.bytes > limits.maxBytes { Self.evict(&s, to: limits.maxBytes * 9 / 10) }
        }
    }

    /// Least recently used first, down to `target` bytes.
    private static func evict(_ s: inout State, to target: Int) {
        let order = s.entries.flatMap { key, variants in variants.map { (key, $0.lastUsed) } }.sorted { $0.1 < $1.1 }
        for (key, used) in order where s.bytes > target {
            guard var variants = s.entries[key], let i = variants.firstIndex(where: { $0.lastUsed == used }) else { continue }
            s.bytes -= variants[i].size
            variants.remove(at: i)
            s.entries[key] = variants.isEmpty ? nil : variants
            s.stats.evicted += 1
        }
    }

    /// A 304 confirmed a stored answer: its fields are updated from the 304 (RFC 9111 §4.3.4)
    /// and it is fresh again.
    func revalidated(_ key: Key, _ entry: Entry, with notModified: [HTTPField], now: UInt64, wallSeconds: Int64) -> Entry {
        var updated = entry
        var fields = entry.fields
        for field in notModified where !Self.isUnstored(field.name) {
            fields.removeAll { $0.name.caseInsensitiveEquals(field.name) }
        }
        fields += notModified.filter { !Self.isUnstored($0.name) }
        updated.fields = fields
        let pairs = fields.map { (name: $0.name, value: $0.value) }
        if case .success(let rules) = CacheRules.response(status: entry.status, fields: pairs, requestHadCredentials: false, now: wallSeconds) {
            updated.rules = rules
        }
        updated.rules.initialAge = notModified.first("Age").flatMap { Int($0) } ?? 0
        updated.storedAt = now
        store(key, updated)
        return updated
    }

    /// Framing, hop-by-hop and per-hop fields are never stored (the cache writes its own).
    static func isUnstored(_ name: String) -> Bool {
        ["content-length", "transfer-encoding", "connection", "keep-alive", "age", "proxy-connection", "te", "trailer", "upgrade",
         "x-devmesh-cache", "x-devmesh-cache-detail"].contains { name.caseInsensitiveEquals($0) }
    }

    func count(_ label: CacheLabel) {
        state.withLockedValue { s in
            switch label {
            case .hit: s.stats.hits += 1
            case .miss: s.stats.misses += 1
            case .revalidated: s.stats.revalidated += 1
            case .stale: s.stats.stale += 1
            case .bypass: s.stats.bypassed += 1
            }
        }
    }

    /// Drops entries of a service (nil: all) whose client path starts with `prefix` (nil: all).
    @discardableResult
    public func purge(service: String? = nil, prefix: String? = nil) -> Int {
        state.withLockedValue { s in
            var dropped = 0
            for (key, variants) in s.entries {
                let keep = variants.filter { e in
                    let matches = (service == nil || e.service == service) && (prefix == nil || e.path.hasPrefix(prefix!))
                    if matches { s.bytes -= e.size; dropped += 1 }
                    return !matches
                }
                s.entries[key] = keep.isEmpty ? nil : keep
            }
            s.stats.purged += dropped
            return dropped
        }
    }

    public var stats: Stats {
        state.withLockedValue { s in
            var stats = s.stats
            stats.entries = s.entries.values.reduce(0) { $0 + $1.count }
            stats.bytes = s.bytes
            stats.maxBytes = limits.maxBytes
            stats.maxEntryBytes = limits.maxEntryBytes
            return stats
        }
    }

    /// What is stored, for the API (most recently used first).
    public func listing(limit: Int = 200, now: UInt64) -> [GatewayCacheReport.Entry] {
        state.withLockedValue { s in
            s.entries.values.flatMap { $0 }.sorted { $0.lastUsed > $1.lastUsed }.prefix(limit).map { e in
                GatewayCacheReport.Entry(service: e.service, path: e.path, status: e.status, bytes: e.body.count, age: e.age(now: now),
                                         lifetime: e.rules.lifetime, fresh: e.isFresh(now: now, clientMaxAge: nil),
                                         vary: zip(e.rules.vary, e.varyValues).map { "\($0)=\($1 ?? "")" })
            }
        }
    }
}

/// `x-devmesh-cache` on every answer of a cached route.
enum CacheLabel: String {
    case hit = "HIT"
    case miss = "MISS"
    /// A stale answer the service confirmed with 304.
    case revalidated = "REVALIDATED"
    /// A stale answer served because the service could not answer (down, timed out).
    case stale = "STALE"
    case bypass = "BYPASS"
}
