@testable import DevMeshRecord
import Testing

@Suite struct RedactorTests {
    let redactor = Redactor(key: Array("a user's key of 32 bytes, random".utf8))

    @Test func markersAreKeyedComparableAndShort() {
        let a = redactor.marker("hunter2"), b = redactor.marker("hunter2"), c = redactor.marker("hunter3")
        #expect(a == b, "equal secrets stay comparable")
        #expect(a != c)
        #expect(Redactor.isMarker(a))
        let other = Redactor(key: Array("another user's key, also random".utf8))
        #expect(other.marker("hunter2") != a, "keyed per user: a marker cannot be matched by hashing guesses")
        #expect(!a.contains("hunter2"))
    }

    @Test func credentialHeadersKeepTheirScheme() {
        let fields = redactor.redact(headers: [("Authorization", "Bearer eyJhbGciOi.secret.sig"), ("Cookie", "session=abc"),
                                               ("X-Api-Key", "k-123"), ("Accept", "application/json")])
        #expect(fields[0].value.hasPrefix("Bearer [redacted:"))
        #expect(!fields[0].value.contains("secret"))
        #expect(Redactor.isMarker(fields[1].value))
        #expect(Redactor.isMarker(fields[2].value))
        #expect(fields[3].value == "application/json")
    }

    @Test func jsonFieldsAtAnyDepthAndQueryParameters() throws {
        let body = Array(#"{"user": "ann", "password": "hunter2", "nested": {"Token": "t", "list": [{"api_key": 42}]}, "n": 1}"#.utf8)
        let result = try #require(redactor.redact(jsonBody: body))
        #expect(result.redacted == 3)
        let text = String(decoding: result.body, as: UTF8.self)
        #expect(!text.contains("hunter2") && !text.contains("\"t\"") && !text.contains("42"))
        #expect(text.contains("\"user\":\"ann\""))
        #expect(redactor.redact(jsonBody: Array("not json".utf8)) == nil)
        let query = redactor.redact(query: "q=books&access_token=abc%20def&page=2")
        #expect(query.hasPrefix("q=books&access_token=[redacted:") && query.hasSuffix("&page=2"))
        #expect(!query.contains("abc"))
        #expect(query.contains(redactor.marker("abc def")), "the decoded value is what is keyed")
    }
}
