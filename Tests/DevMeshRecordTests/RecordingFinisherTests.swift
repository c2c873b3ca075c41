import DevMeshCore
@testable import DevMeshRecord
import Testing

@Suite struct RecordingFinisherTests {
    let redactor = Redactor(key: Array("a user's key of 32 bytes, random".utf8))
    var finisher: RecordingFinisher { RecordingFinisher(redactor: redactor, maxBody: 64) }

    func capture(target: String = "/x", request: CapturedExchange.Side = .init(), response: CapturedExchange.Side = .init(),
                 redact: Bool = true) -> CapturedExchange {
        CapturedExchange(timeNanos: 1, traceID: "t", spanID: "s", service: "devmesh-gateway", listener: "gateway", source: "127.0.0.1",
                         method: "POST", target: target, request: request, status: 200, response: response, durationNanos: 5, redact: redact)
    }

    @Test func chunkedBodiesAreStoredDecoded() {
        let wire = Array("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n".utf8)
        let e = finisher.finish(capture(request: .init(wire: wire, chunked: true)))
        #expect(String(decoding: e.request.body, as: UTF8.self) == "hello world")
        #expect(!e.request.truncated)
        // Cut mid-chunk (the recording limit): what is complete is kept, and it says truncated.
        let cut = finisher.finish(capture(request: .init(wire: Array(wire.prefix(21)), wireSize: wire.count, chunked: true)))
        #expect(String(decoding: cut.request.body, as: UTF8.self) == "hello w")
        #expect(cut.request.truncated)
    }

    @Test func gzipBodiesAreStoredDecodedAndSaySo() {
        let gz = DevMeshOTLPGzip.deflate(Array(#"{"password": "hunter22"}"#.utf8))
        let e = finisher.finish(capture(response: .init(headers: [("Content-Encoding", "gzip"), ("Content-Length", "\(gz.count)")], wire: gz)))
        #expect(e.response.headers.map(\.name) == ["X-Devmesh-Decoded"])
        let text = String(decoding: e.response.body, as: UTF8.self)
        #expect(text.contains("[redacted:") && !text.contains("hunter22"), "a compressed secret is redacted too: \(text)")
    }

    @Test func aSecretIsRedactedWhereverItIsEchoed() {
        let e = finisher.finish(capture(
            target: "/login?api_key=k-abcdef&page=2",
            request: .init(headers: [("Authorization", "Bearer tok-12345")], wire: Array(#"{"user":"ann","password":"pw-98765"}"#.utf8)),
            response: .init(headers: [("X-Echo", "tok-12345")],
                            wire: Array(#"{"you_sent": "pw-98765", "auth": "Bearer tok-12345", "key": "k-abcdef"}"#.utf8))))
        let everything = e.target + e.request.headers.map(\.value).joined() + String(decoding: e.request.body + e.response.body, as: UTF8.self)
            + e.response.headers.map(\.value).joined()
        for secret in ["tok-12345", "pw-98765", "k-abcdef"] { #expect(!everything.contains(secret), "\(secret) in \(everything)") }
        #expect(e.response.headers[0].value == redactor.marker("tok-12345"), "the same secret gets the same marker everywhere")
        #expect(e.target == "/login?api_key=\(redactor.marker("k-abcdef"))&page=2")
        #expect(e.redactions >= 6)
    }

    @Test func truncatedJSONAndFormBodiesAreStillRedacted() {
        let long = #"{"user": "ann", "password": "pw-98765", "notes": ""# + String(repeating: "n", count: 200)
        let e = finisher.finish(capture(request: .init(wire: Array(long.utf8.prefix(64)), wireSize: long.utf8.count)))
        #expect(e.request.truncated)
        #expect(!String(decoding: e.request.body, as: UTF8.self).contains("pw-98765"))
        let form = finisher.finish(capture(request: .init(headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                                          wire: Array("user=ann&password=pw-98765".utf8))))
        #expect(String(decoding: form.request.body, as: UTF8.self) == "user=ann&password=\(redactor.marker("pw-98765"))")
    }

    @Test func anOptOutRouteIsStoredAsCaptured() {
        let e = finisher.finish(capture(request: .init(headers: [("Authorization", "Bearer tok-12345")]), redact: false))
        #expect(e.request.headers[0].value == "Bearer tok-12345")
        #expect(e.redactions == 0)
    }

    @Test func spanTargetsGetTheSameMarkers() {
        #expect(finisher.redact(target: "/a?token=abcd&x=1") == "/a?token=\(redactor.marker("abcd"))&x=1")
        #expect(finisher.redact(target: "/a") == "/a")
    }

    @Test func aMarkerIsNeverMarkedAgain() {
        let m = redactor.marker("secret-1")
        #expect(redactor.marker(m) == m)
    }
}

@Suite struct RedactionReviewTests {
    let redactor = Redactor(key: Array("a user's key of 32 bytes, random".utf8))
    var finisher: RecordingFinisher { RecordingFinisher(redactor: redactor, maxBody: 1 << 20) }

    func finish(request: CapturedExchange.Side = .init(), response: CapturedExchange.Side = .init(), target: String = "/x") -> RecordedExchange {
        finisher.finish(CapturedExchange(timeNanos: 1, traceID: "t", spanID: "s", service: "devmesh-gateway", listener: "gateway",
                                         source: nil, method: "POST", target: target, request: request, status: 200, response: response,
                                         durationNanos: 1, redact: true))
    }

    @Test func aCompleteBodyStaysCompleteWhateverTheMarkersLength() {
        let jwt = "eyJ" + String(repeating: "a", count: 800)
        let e = finish(response: .init(wire: Array(#"{"token": "\#(jwt)", "n": 1}"#.utf8)))
        #expect(!e.response.truncated, "size \(e.response.size), kept \(e.response.body.count)")
        #expect(e.response.size == e.response.body.count)
    }

    @Test func formsUseTheBodyFieldsAndNamesMatchInAnySpelling() {
        let form = finish(request: .init(headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                         wire: Array("grant_type=refresh_token&refresh_token=R-12345678&client_secret=S-12345678".utf8)))
        let text = String(decoding: form.request.body, as: UTF8.self)
        #expect(!text.contains("R-12345678") && !text.contains("S-12345678") && text.hasPrefix("grant_type=refresh_token&"), "\(text)")
        let camel = finish(response: .init(wire: Array(#"{"accessToken": "a-12345678", "refresh-token": "b-12345678", "ClientSecret": "c-12345678"}"#.utf8)))
        let body = String(decoding: camel.response.body, as: UTF8.self)
        #expect(!body.contains("a-12345678") && !body.contains("b-12345678") && !body.contains("c-12345678"), "\(body)")
    }

    @Test func compressedBytesThatCannotBeDecodedAreNotKept() {
        let e = finish(response: .init(headers: [("Content-Encoding", "br")], wire: [1, 2, 3, 4, 5]))
        #expect(e.response.body.isEmpty && e.response.truncated)
        #expect(e.response.headers.contains { $0.name == RecordingFinisher.notStoredHeader })
        // gzip cut by the recording limit cannot be inflated either.
        let gz = DevMeshOTLPGzip.deflate(Array(String(repeating: "token secret ", count: 500).utf8))
        let cut = finish(response: .init(headers: [("Content-Encoding", "gzip")], wire: Array(gz.prefix(20)), wireSize: gz.count))
        #expect(cut.response.body.isEmpty)
    }

    @Test func aLongGzipBodyIsKeptCutAtTheLimit() {
        let small = RecordingFinisher(redactor: redactor, maxBody: 100)
        let gz = DevMeshOTLPGzip.deflate(Array(String(repeating: "x", count: 10_000).utf8))
        let e = small.finish(CapturedExchange(timeNanos: 1, traceID: "t", spanID: "s", service: "g", listener: "gateway", source: nil,
                                              method: "GET", target: "/", request: .init(), status: 200,
                                              response: .init(headers: [("Content-Encoding", "gzip")], wire: gz), durationNanos: 1, redact: true))
        #expect(e.response.body.count == 100 && e.response.truncated)
    }

    @Test func cookieAttributesAreNotTakenForSecrets() {
        let e = finish(request: .init(headers: [("Host", "app.localhost"), ("Cookie", "consent=true; sid=s-1234567890")]),
                       response: .init(headers: [("Set-Cookie", "sid=s-1234567890; Path=/api; Max-Age=86400; SameSite=Strict")],
                                       wire: Array(#"{"expires_in": 86400, "ok": true, "path": "/api", "echo": "s-1234567890"}"#.utf8)),
                       target: "/api/login")
        let body = String(decoding: e.response.body, as: UTF8.self)
        #expect(e.target == "/api/login")
        #expect(e.request.headers[0].value == "app.localhost")
        #expect(body.contains(#""expires_in": 86400"#) && body.contains("true") && body.contains(#""/api""#), "\(body)")
        #expect(!body.contains("s-1234567890"), "the cookie's value is still found where it is echoed")
    }

    @Test func urlHeadersAndCutCharactersAreRedacted() {
        let e = finish(response: .init(headers: [("Location", "https://app/cb?code=1&access_token=t-12345678")]))
        #expect(e.response.headers[0].value == "https://app/cb?code=1&access_token=\(redactor.marker("t-12345678"))")
        // A form cut inside a multi-byte character is still redacted.
        var wire = Array("password=p-12345678&name=J".utf8) + Array("é".utf8).prefix(1)
        wire += []
        let cut = finish(request: .init(headers: [("Content-Type", "application/x-www-form-urlencoded")], wire: wire, wireSize: wire.count + 50))
        #expect(!String(decoding: cut.request.body, as: UTF8.self).contains("p-12345678"))
        #expect(cut.request.truncated)
    }
}
