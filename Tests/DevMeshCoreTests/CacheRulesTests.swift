import DevMeshCore
import Testing

struct CacheRulesTests {
    typealias Fields = [(name: String, value: String)]
    let now: Int64 = 1_800_000_000

    func stored(_ status: Int = 200, _ fields: Fields, credentials: Bool = false) -> Result<CacheRules.Storable, CacheRules.NotStored> {
        CacheRules.response(status: status, fields: fields, requestHadCredentials: credentials, now: now)
    }

    @Test func directivesAreReadFromEveryFieldQuotedOrNot() {
        let d = CacheDirectives(["public, max-age=\"30\"", "S-MaxAge=10, private=\"Set-Cookie, X-A\", no-cache"])
        #expect(d.isPublic && d.maxAge == 30 && d.sMaxAge == 10 && d.isPrivate && d.noCache && !d.noStore)
        let bad = CacheDirectives(["max-age=soon"])
        #expect(bad.malformedAge && bad.maxAge == 0, "a malformed max-age makes the answer stale at once")
        #expect(CacheDirectives(["max-age=99999999999999999"]).maxAge == Int(Int32.max))
    }

    @Test func freshnessComesFromSMaxAgeThenMaxAgeThenExpires() throws {
        #expect(try stored(200, [("Cache-Control", "max-age=60, s-maxage=5")]).get().lifetime == 5, "s-maxage wins in a shared cache")
        #expect(try stored(200, [("cache-control", "max-age=60")]).get().lifetime == 60)
        let date = HTTPDate.format(now)
        let expires = HTTPDate.format(now + 120)
        #expect(try stored(200, [("Date", date), ("Expires", expires)]).get().lifetime == 120)
        #expect(try stored(200, [("Expires", "0"), ("ETag", "\"a\"")]).get().lifetime == 0, "an invalid Expires is in the past")
        #expect(try stored(200, [("ETag", "\"a\"")]).get().lifetime == 0, "a validator alone: stored, revalidated every time")
        #expect(try stored(200, [("Cache-Control", "max-age=9"), ("Age", "4")]).get().initialAge == 4)
    }

    @Test func whatIsNeverStored() {
        func reason(_ r: Result<CacheRules.Storable, CacheRules.NotStored>) -> String {
            if case .failure(let why) = r { return why.reason }
            return "stored"
        }
        #expect(reason(stored(200, [("Cache-Control", "no-store, max-age=60")])).contains("no-store"))
        #expect(reason(stored(200, [("Cache-Control", "private, max-age=60")])).contains("private"))
        #expect(reason(stored(200, [("Cache-Control", "max-age=60"), ("Set-Cookie", "a=b")])).contains("cookie"))
        #expect(reason(stored(200, [("Cache-Control", "max-age=60"), ("Vary", "Accept, *")])).contains("Vary: *"))
        #expect(reason(stored(500, [("Cache-Control", "max-age=60")])).contains("500"))
        #expect(reason(stored(200, [])).contains("no max-age"))
        #expect(reason(stored(200, [("Cache-Control", "max-age=60")], credentials: true)).contains("credentials"))
        #expect(reason(stored(200, [("Cache-Control", "public, max-age=60")], credentials: true)) == "stored")
        #expect(reason(stored(200, [("Cache-Control", "s-maxage=60")], credentials: true)) == "stored")
    }

    @Test func requestsThatBypassOrRevalidate() {
        #expect(CacheRules.request(method: "POST", hasBody: false, fields: []) == .bypass("POST is not cached"))
        #expect(CacheRules.request(method: "GET", hasBody: true, fields: []) == .bypass("a request with a body is not cached"))
        #expect(CacheRules.request(method: "GET", hasBody: false, fields: [("Cache-Control", "no-store")]) == .bypass("the request says no-store"))
        #expect(CacheRules.request(method: "GET", hasBody: false, fields: [("If-None-Match", "\"x\"")])
            == .bypass("the client sent its own conditional request"))
        #expect(CacheRules.request(method: "GET", hasBody: false, fields: [("Pragma", "no-cache")])
            == .lookup(revalidate: true, maxAge: nil, onlyIfCached: false))
        #expect(CacheRules.request(method: "HEAD", hasBody: false, fields: [("Cache-Control", "max-age=0")])
            == .lookup(revalidate: true, maxAge: 0, onlyIfCached: false))
        #expect(CacheRules.request(method: "GET", hasBody: false, fields: [("Cache-Control", "max-age=5, only-if-cached")])
            == .lookup(revalidate: false, maxAge: 5, onlyIfCached: true))
        #expect(CacheRules.varyValue([("Accept-Encoding", "gzip, br"), ("accept-encoding", "zstd")], "accept-encoding") == "gzip,br,zstd")
        #expect(CacheRules.carriesCredentials([("X-Api-Key", "k")]))
    }

    @Test func httpDatesInAllThreeForms() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == 784111777)
        #expect(HTTPDate.format(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("0") == nil && HTTPDate.parse("Sun, 32 Nov 1994 08:49:37 GMT") == nil)
        for t: Int64 in [0, 951782400, 1_700_000_000, 4_102_444_800] {
            #expect(HTTPDate.parse(HTTPDate.format(t)) == t)
        }
    }
}
