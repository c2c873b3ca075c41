import DevMeshHTTP1
import Testing

@Suite struct HTTP1SmokeTests {
    static func parse(_ text: String) -> HTTP1ParseResult<HTTP1RequestHead> {
        Array(text.utf8).withUnsafeBytes { HTTP1RequestParser().parse($0) }
    }

    @Test func simpleGet() throws {
        guard case .complete(let head) = Self.parse("GET /a?b=1 HTTP/1.1\r\nHost: example\r\nX-A:  v \r\n\r\n") else {
            Issue.record("not complete")
            return
        }
        #expect(head.method == "GET")
        #expect(head.target == "/a?b=1")
        #expect(head.host == "example")
        #expect(head.fields == [HTTPField(name: "Host", value: "example"), HTTPField(name: "X-A", value: "v")])
        #expect(head.framing == .none)
        #expect(head.keepAlive)
    }
}
