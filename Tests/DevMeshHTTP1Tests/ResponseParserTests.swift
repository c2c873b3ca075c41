import DevMeshHTTP1
import Testing

@Suite struct ResponseParserTests {
    // MARK: Status line

    struct StatusLineCase: Sendable, CustomTestStringConvertible {
        var line: String
        var status: Int
        var reason: String
        var minor: Int
        var testDescription: String { escaped(line.utf8) }
    }

    @Test(arguments: [
        StatusLineCase(line: "HTTP/1.1 200 OK", status: 200, reason: "OK", minor: 1),
        StatusLineCase(line: "HTTP/1.0 404 Not Found", status: 404, reason: "Not Found", minor: 0),
        StatusLineCase(line: "HTTP/1.1 200", status: 200, reason: "", minor: 1),
        StatusLineCase(line: "HTTP/1.1 200 ", status: 200, reason: "", minor: 1),
        StatusLineCase(line: "HTTP/1.1 500 Internal\tServer  Error ", status: 500, reason: "Internal\tServer  Error ", minor: 1),
        StatusLineCase(line: "HTTP/1.1 299 caf\u{E9}", status: 299, reason: "caf\u{E9}", minor: 1),
        StatusLineCase(line: "HTTP/1.1 100 Continue", status: 100, reason: "Continue", minor: 1),
        StatusLineCase(line: "HTTP/1.1 999 Whatever", status: 999, reason: "Whatever", minor: 1),
    ])
    func statusLineForms(_ c: StatusLineCase) throws {
        let input = bytes(c.line + "\r\nContent-Length: 0\r\n\r\n")
        let head = try #require(expectComplete(parseResponse(input), input))
        #expect(head.status == c.status)
        #expect(head.reason == c.reason)
        #expect(head.minorVersion == c.minor)
        #expect(head.statusLine == 0..<c.line.utf8.count)
        #expect(String(decoding: input[head.statusLine], as: UTF8.self) == c.line)
        #expect(head.headLength == input.count)
    }

    static let violations: [ViolationCase] = [
        .init("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", .malformedStatusLine, 400),
        .init("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", .malformedStatusLine, 400),
        .init("status below 100", "HTTP/1.1 099 Low\r\n\r\n", .malformedStatusLine, 400),
        .init("letters in status", "HTTP/1.1 2x0 OK\r\n\r\n", .malformedStatusLine, 400),
        .init("HTTP/2", "HTTP/2 200 OK\r\n\r\n", .malformedStatusLine, 400),
        .init("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", .malformedStatusLine, 400),
        .init("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", .malformedStatusLine, 400),
        .init("lower-case version", "http/1.1 200 OK\r\n\r\n", .malformedStatusLine, 400),
        .init("two spaces before status", "HTTP/1.1  200 OK\r\n\r\n", .malformedStatusLine, 400),
        .init("tab after status", "HTTP/1.1 200\tOK\r\n\r\n", .malformedStatusLine, 400),
        .init("tab before status", "HTTP/1.1\t200 OK\r\n\r\n", .malformedStatusLine, 400),
        .init("empty status line", "\r\n\r\n", .malformedStatusLine, 400),
        .init("NUL in reason", [UInt8]("HTTP/1.1 200 O".utf8) + [0] + bytes("K\r\n\r\n"), .invalidCharacter, 400),
        .init("bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n", .invalidCharacter, 400),
        .init("bare LF after status line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", .bareLF, 400),
        .init("bare LF after field", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", .bareLF, 400),
        .init("obs-fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", .obsoleteLineFolding, 400),
        .init("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", .whitespaceBeforeColon, 400),
        .init("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", .contentLengthWithTransferEncoding, 400),
        .init("TE and CL, TE not chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n", .contentLengthWithTransferEncoding, 400),
        .init("differing CL fields", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", .invalidContentLength, 400),
        .init("differing CL list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", .invalidContentLength, 400),
        .init("signed CL", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", .invalidContentLength, 400),
        .init("hex CL", "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n", .invalidContentLength, 400),
        .init("empty CL", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", .invalidContentLength, 400),
        .init("overflowing CL", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", .invalidContentLength, 400),
    ]

    @Test(arguments: violations)
    func refused(_ c: ViolationCase) {
        expectViolation(parseResponse(c.input), c.kind, c.status, c.input)
    }

    @Test func overlongStatusLineWithoutEndIsRefused() {
        let input = bytes("HTTP/1.1 200 " + String(repeating: "r", count: 9000))
        expectViolation(parseResponse(input), .malformedStatusLine, 400, input)
    }

    /// RFC 9112 §2.3: `HTTP-name = %s"HTTP"` is case-sensitive.
    @Test(arguments: ["Http/1.1 200 OK", "HTTp/1.1 200 OK"])
    func versionNameIsCaseSensitive(_ line: String) {
        let input = bytes(line + "\r\nContent-Length: 0\r\n\r\n")
        expectViolation(parseResponse(input), .malformedStatusLine, 400, input)
    
    }

    // MARK: Framing

    struct FramingCase: Sendable, CustomTestStringConvertible {
        var input: String
        var method: String = "GET"
        var framing: BodyFraming
        var keepAlive: Bool
        var testDescription: String { "\(method) → \(escaped(input.utf8))" }
    }

    @Test(arguments: [
        // Bodies that cannot exist.
        FramingCase(input: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method: "HEAD", framing: .none, keepAlive: true),
        FramingCase(input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method: "HEAD", framing: .none, keepAlive: true),
        FramingCase(input: "HTTP/1.1 200 OK\r\n\r\n", method: "HEAD", framing: .none, keepAlive: true),
        FramingCase(input: "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", framing: .none, keepAlive: true),
        FramingCase(input: "HTTP/1.1 204 No Content\r\n\r\n", framing: .none, keepAlive: true),
        FramingCase(input: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", framing: .none, keepAlive: true),
        FramingCase(input: "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", framing: .none, keepAlive: true),
        FramingCase(input: "HTTP/1.1 100 Continue\r\n\r\n", framing: .none, keepAlive: true),
        FramingCase(input: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", framing: .none, keepAlive: true),
        FramingCase(input: "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", framing: .none, keepAlive: true),
        // Content-Length.
        FramingCase(input: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", framing: .length(5), keepAlive: true),
        FramingCase(input: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", framing: .none, keepAlive: true),
        FramingCase(input: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", framing: .length(5), keepAlive: true),
        FramingCase(input: "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", framing: .length(5), keepAlive: true),
        FramingCase(input: "HTTP/1.1 200 OK\r\nContent-Length: 5,5\r\nContent-Length: 5\r\n\r\n", framing: .length(5), keepAlive: true),
        FramingCase(input: "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n", method: "POST", framing: .length(3), keepAlive: true),
        // Transfer-Encoding.
        FramingCase(input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", framing: .chunked, keepAlive: true),
        FramingCase(input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", framing: .chunked, keepAlive: true),
        FramingCase(input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n", framing: .chunked, keepAlive: true),
        FramingCase(input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", framing: .untilClose, keepAlive: false),
        FramingCase(input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", framing: .untilClose, keepAlive: false),
        FramingCase(input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", framing: .untilClose, keepAlive: false),
        FramingCase(input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\n", framing: .untilClose, keepAlive: false),
        // No framing at all.
        FramingCase(input: "HTTP/1.1 200 OK\r\n\r\n", framing: .untilClose, keepAlive: false),
        FramingCase(input: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", framing: .untilClose, keepAlive: false),
        // CONNECT tunnel.
        FramingCase(input: "HTTP/1.1 200 Connection Established\r\n\r\n", method: "CONNECT", framing: .untilClose, keepAlive: false),
        FramingCase(input: "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\n", method: "CONNECT", framing: .length(2), keepAlive: true),
    ])
    func framing(_ c: FramingCase) throws {
        let input = bytes(c.input)
        let head = try #require(expectComplete(parseResponse(input, method: c.method), input))
        #expect(head.framing == c.framing)
        #expect(head.keepAlive == c.keepAlive)
    }

    @Test func interimDetection() throws {
        for (status, interim) in [(100, true), (102, true), (103, true), (199, true), (101, false), (200, false), (204, false), (304, false), (404, false)] {
            let input = bytes("HTTP/1.1 \(status) X\r\nContent-Length: 0\r\n\r\n")
            let head = try #require(expectComplete(parseResponse(input), input))
            #expect(head.isInterim == interim, "status \(status)")
        }
    }

    @Test func interimHeadThenFinalHeadInOneBuffer() throws {
        let interim = bytes("HTTP/1.1 100 Continue\r\n\r\n")
        let final = bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let all = interim + final
        let first = try #require(expectComplete(parseResponse(all), all))
        #expect(first.isInterim)
        #expect(first.headLength == interim.count)
        let rest = Array(all[first.headLength...])
        let second = try #require(expectComplete(parseResponse(rest), rest))
        #expect(second.status == 200)
        #expect(second.framing == .length(2))
        #expect(Array(rest[second.headLength...]) == bytes("ok"))
    }

    @Test func switchingProtocols() throws {
        let input = bytes("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\u{81}\u{05}hello")
        let head = try #require(expectComplete(parseResponse(input), input))
        #expect(head.status == 101)
        #expect(!head.isInterim)
        #expect(head.framing == .none)
        #expect(head.connectionOptions == [])
        #expect(head.headLength == "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n".utf8.count)
    }

    @Test func keepAliveAndConnectionOptions() throws {
        let cases: [(String, Bool, [String])] = [
            ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, []),
            ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false, []),
            ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: X-Trace, keep-alive\r\n\r\n", true, ["x-trace"]),
            ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, []),
            ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\n\r\n", true, []),
            ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive, close\r\n\r\n", false, []),
        ]
        for (text, keepAlive, options) in cases {
            let input = bytes(text)
            let head = try #require(expectComplete(parseResponse(input), input))
            #expect(head.keepAlive == keepAlive, "\(escaped(input))")
            #expect(head.connectionOptions == options, "\(escaped(input))")
        }
    }

    /// RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing a
    /// Transfer-Encoding header field MUST treat the message as if the framing is faulty ... and
    /// close the connection after processing the message."
    @Test func transferEncodingInHTTP10ResponseClosesTheConnection() throws {
        let input = bytes("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n")
        let head = try #require(expectComplete(parseResponse(input), input))
        #expect(head.keepAlive == false)
    
    }

    @Test func byteRanges() throws {
        let text = "HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length:  4 \r\nX-Empty:\r\n\r\nbodyHTTP/1.1 200 OK\r\n"
        let input = bytes(text)
        let head = try #require(expectComplete(parseResponse(input), input))
        #expect(String(decoding: input[head.statusLine], as: UTF8.self) == "HTTP/1.1 200 OK")
        #expect(head.fieldLines.map { String(decoding: input[$0], as: UTF8.self) } == ["Server: s\r\n", "Content-Length:  4 \r\n", "X-Empty:\r\n"])
        #expect(head.headLength == "HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length:  4 \r\nX-Empty:\r\n\r\n".utf8.count)
        #expect(Array(input[head.headLength..<(head.headLength + 4)]) == bytes("body"))
        #expect(head.framing == .length(4))
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.0 404 Not Found\r\nConnection: close\r\nX-A:  b \r\n\r\n",
        "HTTP/1.1 204\r\n\r\n",
    ])
    func everyPrefixIsIncomplete(_ text: String) throws {
        let input = bytes(text)
        _ = try #require(expectComplete(parseResponse(input), input))
        for n in 0..<input.count {
            let prefix = Array(input.prefix(n))
            let result = parseResponse(prefix)
            #expect(isIncomplete(result), "prefix of \(n) bytes: \"\(escaped(prefix))\" gave \(result)")
        }
    }

    @Test func responseLimits() {
        let tooMany = bytes("HTTP/1.1 200 OK\r\n" + (0...100).map { "X-\($0): v\r\n" }.joined() + "\r\n")
        expectViolation(parseResponse(tooMany), .tooManyHeaders, 431, tooMany)
        let tooBig = bytes("HTTP/1.1 200 OK\r\nX: " + String(repeating: "v", count: 61 * 1024) + "\r\n\r\n")
        expectViolation(parseResponse(tooBig), .headersTooLarge, 431, tooBig)
    }
}
