import DevMeshCore
import DevMeshHTTP1
@testable import DevMeshProxy
import Testing

struct ResponseCacheTests {
    func entry(_ path: String, bytes: Int, vary: [String] = [], values: [String?] = [], lifetime: Int = 60) -> ResponseCache.Entry {
        let rules = CacheRules.Storable(lifetime: lifetime, initialAge: 0, alwaysRevalidate: false, neverStale: false,
                                        etag: nil, lastModified: nil, vary: vary)
        return ResponseCache.Entry(status: 200, reason: "OK", fields: [], body: Array(repeating: 0x61, count: bytes), rules: rules,
                                   storedAt: 0, varyValues: values, service: "api", path: path)
    }

    @Test func leastRecentlyUsedGoFirstWhenTheBytesRunOut() {
        var limits = ResponseCache.Limits()
        limits.maxBytes = 10_000
        limits.maxEntryBytes = 4_000
        let cache = ResponseCache(limits: limits)
        let keys = (0..<4).map { ResponseCache.key(route: 0, host: "localhost", target: "/\($0)") }
        for (i, key) in keys.prefix(3).enumerated() { cache.store(key, entry("/\(i)", bytes: 3_000)) }
        #expect(cache.lookup(keys[0], request: []) != nil)  // /0 is now the most recent
        cache.store(keys[3], entry("/3", bytes: 3_000))
        #expect(cache.lookup(keys[1], request: []) == nil, "the least recently used went")
        #expect(cache.lookup(keys[0], request: []) != nil && cache.lookup(keys[3], request: []) != nil)
        #expect(cache.stats.bytes <= 10_000 && cache.stats.evicted >= 1)
        let big = ResponseCache.key(route: 0, host: "localhost", target: "/big")
        cache.store(big, entry("/big", bytes: 5_000))
        #expect(cache.lookup(big, request: []) == nil, "bigger than one entry may be: not stored")
    }

    @Test func variantsAreSelectedByTheVaryFieldsAndPurgedByPrefix() {
        let cache = ResponseCache()
        let key = ResponseCache.key(route: 0, host: "LocalHost", target: "/v")
        cache.store(key, entry("/v", bytes: 10, vary: ["accept-language"], values: ["en"]))
        cache.store(key, entry("/v", bytes: 20, vary: ["accept-language"], values: [nil]))
        #expect(cache.lookup(key, request: [(name: "Accept-Language", value: "en")])?.body.count == 10)
        #expect(cache.lookup(key, request: [])?.body.count == 20, "no field is a value of its own")
        #expect(cache.lookup(key, request: [(name: "Accept-Language", value: "fr")]) == nil)
        #expect(cache.lookup(ResponseCache.key(route: 0, host: "localhost", target: "/v"), request: []) != nil, "hosts ignore case")
        #expect(cache.lookup(ResponseCache.key(route: 1, host: "localhost", target: "/v"), request: []) == nil, "routes do not share")
        cache.store(ResponseCache.key(route: 0, host: "localhost", target: "/w"), entry("/w", bytes: 5))
        #expect(cache.purge(prefix: "/v") == 2)
        #expect(cache.stats.entries == 1 && cache.purge(service: "other") == 0 && cache.purge() == 1)
        #expect(cache.stats.bytes == 0)
        let https = ResponseCache.key(route: 0, scheme: "https", host: "localhost", target: "/s")
        cache.store(https, entry("/s", bytes: 1))
        #expect(cache.lookup(ResponseCache.key(route: 0, scheme: "http", host: "localhost", target: "/s"), request: []) == nil,
                "the HTTP port's answers are not the HTTPS port's")
        cache.invalidate(https)
        #expect(cache.lookup(https, request: []) == nil)
    }

    @Test func variantsPerURLAreCapped() {
        let cache = ResponseCache()
        let key = ResponseCache.key(route: 0, host: "h", target: "/v")
        for n in 0..<(ResponseCache.maxVariants + 5) {
            cache.store(key, entry("/v", bytes: 1, vary: ["user-agent"], values: ["agent \(n)"]))
        }
        #expect(cache.stats.entries == ResponseCache.maxVariants)
        #expect(cache.lookup(key, request: [(name: "User-Agent", value: "agent 0")]) == nil, "the oldest variants went")
        #expect(cache.lookup(key, request: [(name: "User-Agent", value: "agent \(ResponseCache.maxVariants + 4)")]) != nil)
    }

    @Test func varyIsAboutWhatTheServiceGets() {
        var edits = HeaderEdits()
        edits.remove.append("Authorization")
        edits.add.append(("X-Auth-User", "bob"))
        let forwarded = CacheRules.forwardedFields([("Authorization", "Basic x"), ("X-Auth-User", "root"), ("Accept", "a")], edits: edits)
        #expect(CacheRules.varyValue(forwarded, "x-auth-user") == "bob", "the gateway's value, not the client's")
        #expect(CacheRules.varyValue(forwarded, "authorization") == nil)
        #expect(CacheRules.varyValue(forwarded, "accept") == "a")
    }

    @Test func ageAndFreshness() {
        var e = entry("/a", bytes: 1, lifetime: 10)
        e.rules.initialAge = 3
        e.storedAt = 1_000_000_000
        #expect(e.age(now: 6_000_000_000) == 8)
        #expect(e.isFresh(now: 6_000_000_000, clientMaxAge: nil))
        #expect(!e.isFresh(now: 6_000_000_000, clientMaxAge: 5), "older than the client takes")
        #expect(!e.isFresh(now: 8_000_000_000, clientMaxAge: nil))
    }
}
