import DevMeshHTTP1
import Testing

// MARK: - Shared helpers (used by every file of this test target)

/// Deterministic PRNG (SplitMix64): the same seed gives the same corpus on every run and platform.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Bytes of a string literal, so test inputs can mix text and raw bytes.
func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// An input shown with every non-printable byte escaped (for failure messages).
func escaped(_ b: some Sequence<UInt8>) -> String {
    var s = ""
    for c in b {
        switch c {
        case 0x0D: s += "\\r"
        case 0x0A: s += "\\n"
        case 0x09: s += "\\t"
        case 0x5C: s += "\\\\"
        case 0x20...0x7E: s.unicodeScalars.append(UnicodeScalar(c))
        default: s += "\\x" + (c < 16 ? "0" : "") + String(c, radix: 16)
        }
    }
    return s
}

func parseRequest(_ input: [UInt8], limits: HTTP1Limits = HTTP1Limits()) -> HTTP1ParseResult<HTTP1RequestHead> {
    input.withUnsafeBytes { HTTP1RequestParser(limits: limits).parse($0) }
}

func parseRequest(_ input: String, limits: HTTP1Limits = HTTP1Limits()) -> HTTP1ParseResult<HTTP1RequestHead> {
    parseRequest(bytes(input), limits: limits)
}

func parseResponse(_ input: [UInt8], method: String = "GET") -> HTTP1ParseResult<HTTP1ResponseHead> {
    input.withUnsafeBytes { HTTP1ResponseParser().parse($0, requestMethod: method) }
}

func parseResponse(_ input: String, method: String = "GET") -> HTTP1ParseResult<HTTP1ResponseHead> {
    parseResponse(bytes(input), method: method)
}

/// The head when the parse is complete; records an issue otherwise.
func expectComplete<H>(_ result: HTTP1ParseResult<H>, _ input: [UInt8],
                       sourceLocation: SourceLocation = #_sourceLocation) -> H? {
    switch result {
    case .complete(let head): return head
    case .incomplete:
        Issue.record("expected .complete, got .incomplete for \"\(escaped(input))\"", sourceLocation: sourceLocation)
    case .invalid(let v):
        Issue.record("expected .complete, got .invalid(\(v.kind), \(v.status)) \"\(v.detail)\" for \"\(escaped(input))\"",
                     sourceLocation: sourceLocation)
    }
    return nil
}

/// Asserts the exact violation kind and status.
func expectViolation<H>(_ result: HTTP1ParseResult<H>, _ kind: HTTP1Violation.Kind, _ status: Int, _ input: [UInt8],
                        sourceLocation: SourceLocation = #_sourceLocation) {
    switch result {
    case .complete:
        Issue.record("expected .invalid(\(kind), \(status)), got .complete for \"\(escaped(input))\"", sourceLocation: sourceLocation)
    case .incomplete:
        Issue.record("expected .invalid(\(kind), \(status)), got .incomplete for \"\(escaped(input))\"", sourceLocation: sourceLocation)
    case .invalid(let v):
        #expect(v.kind == kind, "input: \"\(escaped(input))\" detail: \(v.detail)", sourceLocation: sourceLocation)
        #expect(v.status == status, "input: \"\(escaped(input))\"", sourceLocation: sourceLocation)
    }
}

func isIncomplete<H>(_ result: HTTP1ParseResult<H>) -> Bool {
    if case .incomplete = result { return true }
    return false
}

/// One input and the violation it must produce.
struct ViolationCase: Sendable, CustomTestStringConvertible {
    var name: String
    var input: [UInt8]
    var kind: HTTP1Violation.Kind
    var status: Int

    init(_ name: String, _ input: String, _ kind: HTTP1Violation.Kind, _ status: Int) {
        self.init(name, bytes(input), kind, status)
    }

    init(_ name: String, _ input: [UInt8], _ kind: HTTP1Violation.Kind, _ status: Int) {
        self.name = name
        self.input = input
        self.kind = kind
        self.status = status
    }

    var testDescription: String { "\(name): \"\(escaped(input.prefix(80)))\"" }
}

/// A POST with `Host: x` and the given extra field lines (each without CRLF).
func post(_ fields: String..., version: String = "HTTP/1.1") -> String {
    "POST /upload \(version)\r\nHost: x\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n"
}

// MARK: - Request parser

@Suite struct RequestParserTests {
    // MARK: Accepted requests

    @Test func simpleGet() throws {
        let input = bytes("GET /a?b=1 HTTP/1.1\r\nHost: example\r\nX-A:  v \r\n\r\n")
        let head = try #require(expectComplete(parseRequest(input), input))
        #expect(head.method == "GET")
        #expect(head.target == "/a?b=1")
        #expect(head.minorVersion == 1)
        #expect(head.host == "example")
        #expect(head.fields == [HTTPField(name: "Host", value: "example"), HTTPField(name: "X-A", value: "v")])
        #expect(head.framing == .none)
        #expect(head.keepAlive)
        #expect(head.upgrade == nil)
        #expect(!head.expectsContinue)
        #expect(head.connectionOptions.isEmpty)
        #expect(head.headLength == input.count)
        #expect(head.isIdempotent)
    }

    @Test func fieldValuesAreTrimmedAndKeepInnerWhitespaceAndObsText() throws {
        let input = bytes("GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Tabs:\t a \t b\t \r\n") + [UInt8]("X-Obs: ".utf8) + [0xC3, 0xA9] + bytes("\r\n\r\n")
        let head = try #require(expectComplete(parseRequest(input), input))
        #expect(head.fields.first("x-empty") == "")
        #expect(head.fields.first("X-TABS") == "a \t b")
        #expect(head.fields.first("x-obs") == "é")
    }

    struct FramingCase: Sendable, CustomTestStringConvertible {
        var input: String
        var framing: BodyFraming
        var testDescription: String { escaped(input.utf8) }
    }

    @Test(arguments: [
        FramingCase(input: post("Content-Length: 5"), framing: .length(5)),
        FramingCase(input: post("content-length:\t17\t"), framing: .length(17)),
        FramingCase(input: post("Content-Length: 0"), framing: .none),
        FramingCase(input: post("Content-Length: 007"), framing: .length(7)),
        FramingCase(input: post("Content-Length: 9007199254740992"), framing: .length(1 << 53)),
        FramingCase(input: post("Transfer-Encoding: chunked"), framing: .chunked),
        FramingCase(input: post("transfer-encoding: Chunked"), framing: .chunked),
        FramingCase(input: post("Transfer-Encoding: , CHUNKED ,"), framing: .chunked),
        FramingCase(input: post(), framing: .none),
    ])
    func framing(_ c: FramingCase) throws {
        let input = bytes(c.input)
        let head = try #require(expectComplete(parseRequest(input), input))
        #expect(head.framing == c.framing)
    }

    // MARK: Smuggling shapes and other refused requests

    static let violations: [ViolationCase] = [
        // Content-Length together with Transfer-Encoding
        .init("CL then TE", post("Content-Length: 5", "Transfer-Encoding: chunked"), .contentLengthWithTransferEncoding, 400),
        .init("TE then CL", post("Transfer-Encoding: chunked", "Content-Length: 5"), .contentLengthWithTransferEncoding, 400),
        .init("CL 0 with TE", post("Content-Length: 0", "Transfer-Encoding: chunked"), .contentLengthWithTransferEncoding, 400),
        // Content-Length shapes
        .init("duplicate CL, same value", post("Content-Length: 5", "Content-Length: 5"), .multipleContentLength, 400),
        .init("duplicate CL, different values", post("Content-Length: 5", "Content-Length: 6"), .multipleContentLength, 400),
        .init("duplicate CL, different case", post("Content-Length: 5", "content-LENGTH: 50"), .multipleContentLength, 400),
        .init("CL +5", post("Content-Length: +5"), .invalidContentLength, 400),
        .init("CL -5", post("Content-Length: -5"), .invalidContentLength, 400),
        .init("CL hex", post("Content-Length: 0x5"), .invalidContentLength, 400),
        .init("CL list", post("Content-Length: 5, 5"), .invalidContentLength, 400),
        .init("CL list without space", post("Content-Length: 5,5"), .invalidContentLength, 400),
        .init("CL space inside", post("Content-Length: 5 5"), .invalidContentLength, 400),
        .init("CL tab inside", post("Content-Length: 5\t5"), .invalidContentLength, 400),
        .init("CL empty", post("Content-Length:"), .invalidContentLength, 400),
        .init("CL only spaces", post("Content-Length:   "), .invalidContentLength, 400),
        .init("CL 20 digits", post("Content-Length: 12345678901234567890"), .invalidContentLength, 400),
        .init("CL 2^64", post("Content-Length: 18446744073709551616"), .invalidContentLength, 400),
        .init("CL 2^53 + 1", post("Content-Length: 9007199254740993"), .invalidContentLength, 400),
        .init("CL decimal point", post("Content-Length: 5.0"), .invalidContentLength, 400),
        .init("CL unicode digit", post("Content-Length: ５"), .invalidContentLength, 400),
        // Transfer-Encoding shapes
        .init("TE in HTTP/1.0", post("Transfer-Encoding: chunked", version: "HTTP/1.0"), .transferEncodingInHTTP10, 400),
        .init("TE in HTTP/1.0 with CL", post("Transfer-Encoding: chunked", "Content-Length: 3", version: "HTTP/1.0"), .transferEncodingInHTTP10, 400),
        .init("unknown coding", post("Transfer-Encoding: foo"), .unknownTransferCoding, 501),
        .init("unknown coding before chunked", post("Transfer-Encoding: foo, chunked"), .unknownTransferCoding, 501),
        .init("chunked with parameter", post("Transfer-Encoding: chunked;q=1"), .unknownTransferCoding, 501),
        .init("quoted chunked", post("Transfer-Encoding: \"chunked\""), .unknownTransferCoding, 501),
        .init("chunked not final", post("Transfer-Encoding: chunked, gzip"), .chunkedNotFinal, 400),
        .init("chunked twice", post("Transfer-Encoding: chunked, chunked"), .chunkedNotFinal, 400),
        .init("chunked in two fields", post("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), .chunkedNotFinal, 400),
        .init("gzip only", post("Transfer-Encoding: gzip"), .chunkedNotFinal, 400),
        .init("gzip, chunked", post("Transfer-Encoding: gzip, chunked"), .unknownTransferCoding, 501),
        .init("gzip and chunked in two fields", post("Transfer-Encoding: gzip", "Transfer-Encoding: chunked"), .unknownTransferCoding, 501),
        .init("empty TE", post("Transfer-Encoding:"), .unknownTransferCoding, 501),
        // Line folding, CR and LF
        .init("obs-fold with space", post("X-A: a", " b"), .obsoleteLineFolding, 400),
        .init("obs-fold with tab", post("X-A: a", "\tb"), .obsoleteLineFolding, 400),
        .init("obs-fold of Transfer-Encoding", post("Transfer-Encoding:", " chunked"), .obsoleteLineFolding, 400),
        .init("whitespace line before the first field", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", .obsoleteLineFolding, 400),
        .init("bare CR in request target", "GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n", .bareCR, 400),
        .init("bare CR after method", "GET\r/ HTTP/1.1\r\nHost: x\r\n\r\n", .bareCR, 400),
        .init("bare CR in header value", post("X-A: a\rb"), .bareCR, 400),
        .init("bare CR at end of header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\r\n\r\n", .bareCR, 400),
        .init("bare CR in header name", post("X-A\r: b"), .bareCR, 400),
        .init("bare CR as line end", "GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n", .bareCR, 400),
        .init("bare LF after request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", .bareLF, 400),
        .init("bare LF after header", "GET / HTTP/1.1\r\nHost: x\n\r\n", .bareLF, 400),
        .init("bare LF as final empty line", "GET / HTTP/1.1\r\nHost: x\r\n\n", .bareLF, 400),
        .init("bare LF everywhere", "GET / HTTP/1.1\nHost: x\n\n", .bareLF, 400),
        .init("bare LF before request", "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", .bareLF, 400),
        .init("bare LF after leading CRLF", "\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", .bareLF, 400),
        .init("LF CR line ending", "GET / HTTP/1.1\n\rHost: x\r\n\r\n", .bareLF, 400),
        // Control bytes
        .init("NUL in header value", [UInt8]("GET / HTTP/1.1\r\nHost: x\r\nX-A: a".utf8) + [0] + bytes("b\r\n\r\n"), .invalidCharacter, 400),
        .init("NUL in target", [UInt8]("GET /a".utf8) + [0] + bytes(" HTTP/1.1\r\nHost: x\r\n\r\n"), .invalidCharacter, 400),
        .init("NUL in header name", [UInt8]("GET / HTTP/1.1\r\nHost: x\r\nX".utf8) + [0] + bytes(": a\r\n\r\n"), .malformedHeader, 400),
        .init("DEL in header value", post("X-A: a\u{7F}"), .invalidCharacter, 400),
        .init("VT in header value", post("X-A: a\u{0B}b"), .invalidCharacter, 400),
        .init("ESC in request line", "GET /\u{1B} HTTP/1.1\r\nHost: x\r\n\r\n", .invalidCharacter, 400),
        // Field names
        .init("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", .whitespaceBeforeColon, 400),
        .init("tab before colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", .whitespaceBeforeColon, 400),
        .init("space before colon of TE", post("Transfer-Encoding : chunked"), .whitespaceBeforeColon, 400),
        .init("space inside name", post("Content Length: 5"), .whitespaceBeforeColon, 400),
        .init("no colon", post("X-A"), .malformedHeader, 400),
        .init("empty name", post(": a"), .malformedHeader, 400),
        .init("non-token in name", post("X(A): a"), .malformedHeader, 400),
        .init("obs-text in name", post("X-é: a"), .malformedHeader, 400),
        // Host
        .init("missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", .missingHost, 400),
        .init("missing Host with absolute-form", "GET http://x/ HTTP/1.1\r\n\r\n", .missingHost, 400),
        .init("repeated Host, same value", "GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", .multipleHost, 400),
        .init("repeated Host, different values", "GET / HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n", .multipleHost, 400),
        .init("repeated Host in HTTP/1.0", "GET / HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n", .multipleHost, 400),
        .init("Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", .invalidHost, 400),
        .init("Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", .invalidHost, 400),
        .init("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", .invalidHost, 400),
        .init("Host list", "GET / HTTP/1.1\r\nHost: a:80:90\r\n\r\n", .invalidHost, 400),
        .init("Host port not digits", "GET / HTTP/1.1\r\nHost: a:http\r\n\r\n", .invalidHost, 400),
        .init("Host port too long", "GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", .invalidHost, 400),
        .init("Host unclosed IPv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", .invalidHost, 400),
        .init("Host IPv6 garbage", "GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", .invalidHost, 400),
        .init("Host IPv6 trailing junk", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", .invalidHost, 400),
        .init("Host with quote", "GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", .invalidHost, 400),
        .init("Host with obs-text", "GET / HTTP/1.1\r\nHost: é\r\n\r\n", .invalidHost, 400),
        .init("Host only port", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", .invalidHost, 400),
        // Request line
        .init("HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", .unsupportedVersion, 505),
        .init("HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", .unsupportedVersion, 505),
        .init("HTTP/0.9", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", .unsupportedVersion, 505),
        .init("HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", .unsupportedVersion, 505),
        .init("garbage version", "GET / HTTX/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("version without minor", "GET / HTTP/1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("version with letters", "GET / HTTP/a.b\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("version with comma", "GET / HTTP/1,1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("version two-digit minor", "GET / HTTP/1.10\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("trailing space after version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("no version (HTTP/0.9 shape)", "GET /\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("two spaces after method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("two spaces after target", "GET /  HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("tab separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("leading space", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("non-token method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("obs-text in target", "GET /é HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        .init("empty request line", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", .malformedRequestLine, 400),
        // Expect
        .init("Expect other than 100-continue", post("Expect: 200-ok"), .unsupportedExpectation, 417),
        .init("Expect list with unknown member", post("Expect: 100-continue, foo"), .unsupportedExpectation, 417),
        .init("Expect with parameter", post("Expect: 100-continue;x=1"), .unsupportedExpectation, 417),
    ]

    @Test(arguments: violations)
    func refused(_ c: ViolationCase) {
        expectViolation(parseRequest(c.input), c.kind, c.status, c.input)
    }

    /// RFC 9112 §2.3: `HTTP-name = %s"HTTP"` is case-sensitive, so `Http/1.1` is not a valid
    /// version (llhttp, the upstream of many backends, refuses it too).
    @Test(arguments: ["Http/1.1", "HTtP/1.1", "HTTp/1.1", "HttP/1.0"])
    func versionNameIsCaseSensitive(_ version: String) {
        let input = bytes("GET / \(version)\r\nHost: x\r\n\r\n")
        expectViolation(parseRequest(input), .malformedRequestLine, 400, input)
    
    }

    /// RFC 9112 §3.2: `request-target = origin-form / absolute-form / authority-form / asterisk-form`.
    /// These match none of them (no leading "/", no `scheme:`), and llhttp refuses them as "invalid URL";
    /// a proxy routing on the target must not forward them.
    @Test(arguments: ["abc", "a/b", "?q=1", "h;tp://example.com/", "-/x"])
    func requestTargetMustHaveAValidForm(_ target: String) {
        let input = bytes("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
        expectViolation(parseRequest(input), .malformedRequestLine, 400, input)
    
    }

    // MARK: Limits

    @Test func requestLineAtTheLimitIsAccepted() throws {
        // The limit counts the request line with its CR.
        let fixed = "GET / HTTP/1.1\r".utf8.count
        let line = "GET /" + String(repeating: "a", count: 8 * 1024 - fixed) + " HTTP/1.1\r\n"
        let input = bytes(line + "Host: x\r\n\r\n")
        _ = try #require(expectComplete(parseRequest(input), input))
    }

    @Test func requestLineOverTheLimitIs414() {
        let input = bytes("GET /" + String(repeating: "a", count: 9 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n")
        expectViolation(parseRequest(input), .requestLineTooLong, 414, input)
        // Also before the line is complete: a peer must not make us buffer forever.
        let partial = Array(input.prefix(8 * 1024 + 10))
        expectViolation(parseRequest(partial), .requestLineTooLong, 414, partial)
    }

    @Test func headerSectionOver60KiBIs431() {
        let big = String(repeating: "v", count: 61 * 1024)
        let input = bytes("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n")
        expectViolation(parseRequest(input), .headersTooLarge, 431, input)
        // Many medium fields adding up to more than 60 KiB (fewer than 100 of them).
        let medium = (0..<70).map { "X-F\($0): " + String(repeating: "m", count: 1000) + "\r\n" }.joined()
        let many = bytes("GET / HTTP/1.1\r\nHost: x\r\n" + medium + "\r\n")
        expectViolation(parseRequest(many), .headersTooLarge, 431, many)
        // Before the section is complete.
        let partial = bytes("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(big)")
        expectViolation(parseRequest(partial), .headersTooLarge, 431, partial)
    }

    @Test func headerSectionJustUnder60KiBIsAccepted() throws {
        let prefix = "Host: x\r\nX-Big: "
        let value = String(repeating: "v", count: 60 * 1024 - prefix.utf8.count - 4)
        let input = bytes("GET / HTTP/1.1\r\n" + prefix + value + "\r\n\r\n")
        let head = try #require(expectComplete(parseRequest(input), input))
        #expect(head.fields.count == 2)
    }

    @Test func fieldCountLimit() throws {
        let hundred = "Host: x\r\n" + (1..<100).map { "X-F\($0): v\r\n" }.joined()
        let ok = bytes("GET / HTTP/1.1\r\n" + hundred + "\r\n")
        let head = try #require(expectComplete(parseRequest(ok), ok))
        #expect(head.fields.count == 100)
        let tooMany = bytes("GET / HTTP/1.1\r\n" + hundred + "X-F100: v\r\n\r\n")
        expectViolation(parseRequest(tooMany), .tooManyHeaders, 431, tooMany)
    }

    @Test func customLimitsAreHonoured() {
        var limits = HTTP1Limits()
        limits.maxRequestLineLength = 20
        limits.maxHeaderCount = 2
        limits.maxHeaderBytes = 40
        let longLine = bytes("GET /0123456789abcdef HTTP/1.1\r\nHost: x\r\n\r\n")
        expectViolation(parseRequest(longLine, limits: limits), .requestLineTooLong, 414, longLine)
        let three = bytes("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n")
        expectViolation(parseRequest(three, limits: limits), .tooManyHeaders, 431, three)
        let big = bytes("GET / HTTP/1.1\r\nHost: x\r\nA: " + String(repeating: "1", count: 40) + "\r\n\r\n")
        expectViolation(parseRequest(big, limits: limits), .headersTooLarge, 431, big)
    }

    // MARK: Incomplete input

    static let validRequests: [String] = [
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nX-A:  v \r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "\r\n\r\nPOST /upload HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n",
        "\r\n\r\n\r\n\r\nPUT http://h/x HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\nX-Empty:\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\nX:\t\r\n\r\n",
    ]

    @Test(arguments: validRequests)
    func everyPrefixIsIncomplete(_ text: String) throws {
        let input = bytes(text)
        let head = try #require(expectComplete(parseRequest(input), input))
        #expect(head.headLength == input.count)
        for n in 0..<input.count {
            let prefix = Array(input.prefix(n))
            let result = parseRequest(prefix)
            #expect(isIncomplete(result), "prefix of \(n) bytes: \"\(escaped(prefix))\" gave \(result)")
        }
    }

    @Test(arguments: validRequests)
    func trailingBytesDoNotChangeTheHead(_ text: String) throws {
        let input = bytes(text)
        let head = try #require(expectComplete(parseRequest(input), input))
        let pipelined = input + bytes("hello world\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: y\r\n\r\n")
        let again = try #require(expectComplete(parseRequest(pipelined), pipelined))
        #expect(again == head)
    }

    // MARK: Connection semantics

    struct KeepAliveCase: Sendable, CustomTestStringConvertible {
        var input: String
        var keepAlive: Bool
        var options: [String] = []
        var testDescription: String { escaped(input.utf8) }
    }

    @Test(arguments: [
        KeepAliveCase(input: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", keepAlive: true),
        KeepAliveCase(input: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", keepAlive: false),
        KeepAliveCase(input: "GET / HTTP/1.1\r\nHost: x\r\nConnection: CLOSE\r\n\r\n", keepAlive: false),
        KeepAliveCase(input: "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n", keepAlive: false),
        KeepAliveCase(input: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n", keepAlive: false),
        KeepAliveCase(input: "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", keepAlive: true),
        KeepAliveCase(input: "GET / HTTP/1.0\r\n\r\n", keepAlive: false),
        KeepAliveCase(input: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", keepAlive: true),
        KeepAliveCase(input: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", keepAlive: true),
        KeepAliveCase(input: "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", keepAlive: false),
        KeepAliveCase(input: "GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n", keepAlive: false),
        KeepAliveCase(input: "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Foo ,TE,\r\n\r\n", keepAlive: true, options: ["x-foo", "te"]),
        KeepAliveCase(input: "GET / HTTP/1.1\r\nHost: x\r\nConnection: X-A\r\nConnection: x-b, close\r\n\r\n", keepAlive: false, options: ["x-a", "x-b"]),
    ])
    func keepAlive(_ c: KeepAliveCase) throws {
        let input = bytes(c.input)
        let head = try #require(expectComplete(parseRequest(input), input))
        #expect(head.keepAlive == c.keepAlive)
        #expect(head.connectionOptions == c.options)
    }

    @Test func upgradeDetection() throws {
        let asks = bytes("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n")
        let head = try #require(expectComplete(parseRequest(asks), asks))
        #expect(head.upgrade == "websocket")
        #expect(head.connectionOptions == [])
        #expect(head.keepAlive)

        // Upgrade without Connection: upgrade is not a request to switch.
        let noConnection = bytes("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
        #expect(try #require(expectComplete(parseRequest(noConnection), noConnection)).upgrade == nil)
        // Connection: upgrade without an Upgrade field.
        let noUpgrade = bytes("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n")
        #expect(try #require(expectComplete(parseRequest(noUpgrade), noUpgrade)).upgrade == nil)
        // Case-insensitive field name and token.
        let mixed = bytes("GET / HTTP/1.1\r\nHost: x\r\nupgrade: h2c\r\nCONNECTION: UPGRADE\r\n\r\n")
        #expect(try #require(expectComplete(parseRequest(mixed), mixed)).upgrade == "h2c")
    }

    @Test func expectContinue() throws {
        let v11 = bytes(post("Expect: 100-Continue", "Content-Length: 3"))
        #expect(try #require(expectComplete(parseRequest(v11), v11)).expectsContinue)
        // RFC 9110 §10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request.
        let v10 = bytes(post("Expect: 100-continue", "Content-Length: 3", version: "HTTP/1.0"))
        #expect(try #require(expectComplete(parseRequest(v10), v10)).expectsContinue == false)
        let none = bytes(post("Content-Length: 3"))
        #expect(try #require(expectComplete(parseRequest(none), none)).expectsContinue == false)
    }

    // MARK: Host and request target

    struct HostCase: Sendable, CustomTestStringConvertible {
        var input: String
        var host: String
        var target: String
        var testDescription: String { escaped(input.utf8) }
    }

    @Test(arguments: [
        HostCase(input: "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", host: "example.com", target: "/"),
        HostCase(input: "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", host: "example.com:8080", target: "/"),
        HostCase(input: "GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", host: "127.0.0.1:80", target: "/"),
        HostCase(input: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", host: "[::1]:8080", target: "/"),
        HostCase(input: "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", host: "[::1]", target: "/"),
        HostCase(input: "GET / HTTP/1.1\r\nHost:\r\n\r\n", host: "", target: "/"),
        HostCase(input: "GET / HTTP/1.0\r\n\r\n", host: "", target: "/"),
        HostCase(input: "GET http://Origin.example:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n", host: "Origin.example:8080", target: "http://Origin.example:8080/p?q"),
        HostCase(input: "GET HTTPS://secure.example HTTP/1.1\r\nHost: other\r\n\r\n", host: "secure.example", target: "HTTPS://secure.example"),
        HostCase(input: "GET http://a.example?x HTTP/1.0\r\n\r\n", host: "a.example", target: "http://a.example?x"),
        HostCase(input: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", host: "x", target: "*"),
        HostCase(input: "CONNECT x.example:443 HTTP/1.1\r\nHost: x.example:443\r\n\r\n", host: "x.example:443", target: "x.example:443"),
    ])
    func hostAndTarget(_ c: HostCase) throws {
        let input = bytes(c.input)
        let head = try #require(expectComplete(parseRequest(input), input))
        #expect(head.host == c.host)
        #expect(head.target == c.target)
    }

    // MARK: Byte ranges

    @Test func headLengthAndFieldLinesPointAtTheRightBytes() throws {
        let text = "\r\n\r\nPOST /p HTTP/1.1\r\nHost: x\r\nX-A:\t a b \t\r\ncontent-length: 5\r\nX-Empty:\r\n\r\nhelloGET / HTTP/1.1\r\n"
        let input = bytes(text)
        let head = try #require(expectComplete(parseRequest(input), input))
        let expectedHead = "\r\n\r\nPOST /p HTTP/1.1\r\nHost: x\r\nX-A:\t a b \t\r\ncontent-length: 5\r\nX-Empty:\r\n\r\n"
        #expect(head.headLength == expectedHead.utf8.count)
        #expect(Array(input[head.headLength...].prefix(5)) == bytes("hello"))
        #expect(head.framing == .length(5))
        let lines = head.fieldLines.map { String(decoding: input[$0], as: UTF8.self) }
        #expect(lines == ["Host: x\r\n", "X-A:\t a b \t\r\n", "content-length: 5\r\n", "X-Empty:\r\n"])
        #expect(head.fields.map(\.name) == ["Host", "X-A", "content-length", "X-Empty"])
        #expect(head.fields.map(\.value) == ["x", "a b", "5", ""])
        // Every line starts with its field name.
        for (field, range) in zip(head.fields, head.fieldLines) {
            #expect(input[range].starts(with: field.name.utf8))
        }
    }

    @Test func fieldLinesOfARequestWithManyFields() throws {
        let fields = (0..<50).map { "X-\($0): \(String(repeating: "v", count: $0))" }
        let text = "GET / HTTP/1.1\r\nHost: h\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n"
        let input = bytes(text)
        let head = try #require(expectComplete(parseRequest(input), input))
        #expect(head.fieldLines.count == 51)
        for (i, range) in head.fieldLines.enumerated() {
            let expected = i == 0 ? "Host: h\r\n" : fields[i - 1] + "\r\n"
            #expect(String(decoding: input[range], as: UTF8.self) == expected)
        }
        // Ranges are contiguous and end right before the final empty line.
        for (a, b) in zip(head.fieldLines, head.fieldLines.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        #expect(head.fieldLines.last!.upperBound + 2 == head.headLength)
    }

    @Test func fourLeadingEmptyLinesAreSkipped() throws {
        let input = bytes("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try #require(expectComplete(parseRequest(input), input))
        #expect(head.headLength == input.count)
        #expect(head.fieldLines == [24..<33])
    }
}
