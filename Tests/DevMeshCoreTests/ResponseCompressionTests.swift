import DevMeshCore
import Testing

struct ResponseCompressionTests {
    @Test func acceptEncodingWithQValuesAndWildcards() {
        #expect(ResponseCompression.acceptsGzip(["gzip, deflate, br"]))
        #expect(ResponseCompression.acceptsGzip(["br;q=1.0, GZIP;q=0.5"]))
        #expect(ResponseCompression.acceptsGzip(["*"]))
        #expect(ResponseCompression.acceptsGzip(["x-gzip"]))
        #expect(!ResponseCompression.acceptsGzip([]))
        #expect(!ResponseCompression.acceptsGzip(["br, deflate"]))
        #expect(!ResponseCompression.acceptsGzip(["gzip;q=0, *"]), "an explicit q=0 wins over *")
        #expect(!ResponseCompression.acceptsGzip(["*;q=0"]))
        #expect(!ResponseCompression.acceptsGzip(["identity"]))
    }

    @Test func typesAndTheReasonsNotToCompress() {
        func decide(_ fields: [(name: String, value: String)], length: Int? = 5000, method: String = "GET", status: Int = 200,
                    accept: [String] = ["gzip"]) -> ResponseCompression.Decision {
            ResponseCompression.decide(method: method, status: status, acceptEncoding: accept, fields: fields, contentLength: length, minSize: 1024)
        }
        let json = [(name: "Content-Type", value: "application/json; charset=utf-8")]
        #expect(decide(json) == .compress)
        #expect(decide([("content-type", "application/problem+json")]) == .compress)
        #expect(decide([("Content-Type", "text/html")], length: nil) == .compress, "unknown length: worth trying")
        #expect(decide(json, accept: []) == .asIs(varies: true), "would have been: the answer varies")
        #expect(decide(json, method: "HEAD") == .asIs(varies: true))
        #expect(decide(json, length: 500) == .asIs(varies: false))
        #expect(decide(json + [("Content-Encoding", "br")]) == .asIs(varies: false))
        #expect(decide(json + [("Cache-Control", "public, no-transform")]) == .asIs(varies: false))
        #expect(decide([("Content-Type", "image/jpeg")]) == .asIs(varies: false))
        #expect(decide([("Content-Type", "text/event-stream")]) == .asIs(varies: false), "a stream must not wait for zlib")
        #expect(decide([]) == .asIs(varies: false), "no type: unknown bytes")
        #expect(decide(json, status: 206) == .asIs(varies: false))
        #expect(ResponseCompression.weakened(etag: "\"x\"") == "W/\"x\"" && ResponseCompression.weakened(etag: "W/\"x\"") == "W/\"x\"")
    }
}
