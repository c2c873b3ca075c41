import DevMeshHTTP1
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

// Differential test: DevMeshHTTP1 against NIOHTTP1's llhttp-based decoder. DevMeshHTTP1 may refuse
// what llhttp accepts (it is meant to be stricter), never the other way round: whenever it accepts
// a request head, llhttp must accept it too and agree on the method, target, version, where the
// head ends, where the message ends and how long the body is.

// MARK: - llhttp side

/// What NIOHTTP1 made of an input.
struct LLHTTPOutcome {
    var head: HTTPRequestHead?
    /// Bytes fed when the head came out (exact only when fed byte by byte).
    var headEnd: Int?
    /// Body bytes of the first message.
    var bodyBytes = 0
    /// Bytes fed when the first message ended (exact only when fed byte by byte).
    var messageEnd: Int?
    var error: String?
    /// The second message's head, if llhttp got that far.
    var nextHead: HTTPRequestHead?
}

/// Runs NIOHTTP1's request decoder over `input`, either in one write or byte by byte (then it stops
/// at the end of the first message so that `headEnd` and `messageEnd` are exact offsets).
func runLLHTTP(_ input: [UInt8], byteByByte: Bool) -> LLHTTPOutcome {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    var out = LLHTTPOutcome()
    let pieces: [Range<Int>] = byteByByte ? (0..<input.count).map { $0..<($0 + 1) } : [0..<input.count]
    for piece in pieces {
        var buffer = channel.allocator.buffer(capacity: piece.count)
        buffer.writeBytes(input[piece])
        do {
            try channel.writeInbound(buffer)
            try channel.throwIfErrorCaught()
        } catch {
            out.error = "\(error)"
        }
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head):
                if out.head == nil {
                    out.head = head
                    out.headEnd = piece.upperBound
                } else if out.nextHead == nil {
                    out.nextHead = head
                }
            case .body(let body):
                if out.messageEnd == nil { out.bodyBytes += body.readableBytes }
            case .end:
                if out.messageEnd == nil { out.messageEnd = piece.upperBound }
            }
        }
        if out.error != nil { break }
        if byteByByte, out.messageEnd != nil { break }
    }
    return out
}

// MARK: - DevMeshHTTP1 side

/// Where DevMeshHTTP1 says the first message ends.
enum DevMeshMessage: Equatable {
    /// The message ends after `end` bytes with `body` body bytes (decoded, for chunked).
    case ends(end: Int, body: Int)
    /// The body runs past the end of the input.
    case incomplete
    /// The chunked body is refused.
    case invalidBody(HTTP1Violation.Kind)
}

func devMeshMessage(_ input: [UInt8], _ head: HTTP1RequestHead) -> DevMeshMessage {
    switch head.framing {
    case .none:
        return .ends(end: head.headLength, body: 0)
    case .length(let n):
        let end = head.headLength + Int(n)
        return end <= input.count ? .ends(end: end, body: Int(n)) : .incomplete
    case .chunked:
        let body = Array(input[head.headLength...])
        switch scanChunked(body) {
        case .done(let consumed):
            return .ends(end: head.headLength + consumed, body: decodedChunkedLength(Array(body.prefix(consumed))))
        case .incomplete: return .incomplete
        case .invalid(let kind): return .invalidBody(kind)
        case .broken: return .invalidBody(.invalidChunkSize)
        }
    case .untilClose:
        return .incomplete
    }
}

/// Sum of the chunk sizes of a body the scanner validated (so the shape is known to be sane).
func decodedChunkedLength(_ body: [UInt8]) -> Int {
    var i = 0, total = 0
    while i < body.count {
        var size = 0
        while i < body.count, let d = hexValue(body[i]) { size = size * 16 + d; i += 1 }
        while i < body.count, body[i] != 0x0A { i += 1 }  // extensions, CR, up to LF
        i += 1
        if size == 0 { break }
        total += size
        i += size + 2
    }
    return total
}

func hexValue(_ b: UInt8) -> Int? {
    switch b {
    case 0x30...0x39: return Int(b - 0x30)
    case 0x41...0x46: return Int(b - 0x41 + 10)
    case 0x61...0x66: return Int(b - 0x61 + 10)
    default: return nil
    }
}

// MARK: - Corpus

/// A generated request and the mutations that went into it.
struct GeneratedRequest {
    var bytes: [UInt8]
    var tags: [String]
}

/// Builds requests from valid parts and mutates them with the shapes request smuggling relies on.
struct RequestGenerator {
    var rng: SplitMix64

    static let sentinel = "GET /next HTTP/1.1\r\nHost: next\r\n\r\n"

    mutating func chance(_ p: Double) -> Bool { Double(rng.next() >> 11) / Double(1 << 53) < p }
    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }
    mutating func pick<T>(_ a: [T]) -> T { a[int(0...(a.count - 1))] }

    mutating func make() -> GeneratedRequest {
        var tags: [String] = []
        var out: [UInt8] = []

        // Leading empty lines.
        if chance(0.05) {
            let lead = pick(["\r\n", "\r\n\r\n", "\n", "\r\n\n", "\r\n\r\n\r\n\r\n\r\n"])
            tags.append("lead:\(escaped(lead.utf8))")
            out += Array(lead.utf8)
        }

        // Request line.
        let method = pick(["GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
        var target = pick(["/", "/a", "/a/b?c=d&e=f", "/p%20q", "/x#frag", "/api/v1/items?id=42",
                           "http://example.com/path", "http://example.com:8080/", "/~u/!$&'()*+,;=:@", "/?q=a/b?c"])
        if method == "OPTIONS", chance(0.3) { target = "*" }
        if chance(0.04) {
            target = pick(["/a\"b", "/a{b}", "/a\\b", "/a|b", "/a<b>", "/a^b`", "abc", "//x", "http://u@h/", "*", "/a%zz", "http:///x"])
            tags.append("target:\(target)")
        }
        var sp1 = " ", sp2 = " "
        if chance(0.03) { sp1 = pick(["  ", "\t", " \t"]); tags.append("sp1:\(escaped(sp1.utf8))") }
        if chance(0.03) { sp2 = pick(["  ", "\t", " \t"]); tags.append("sp2:\(escaped(sp2.utf8))") }
        var version = "HTTP/1.1"
        if chance(0.15) {
            version = pick(["HTTP/1.0", "HTTP/1.0", "HTTP/1.0", "Http/1.1", "http/1.1", "HTTP/1.2", "HTTP/2.0",
                            "HTTP/0.9", "HTTP/11", "HTTP/1.1 ", "HTTP /1.1", "HTTPS/1.1", "HTTP/1.1\t", "HTtP/1.0"])
            tags.append("version:\(escaped(version.utf8))")
        }
        out += Array((method + sp1 + target + sp2 + version).utf8)
        out += lineEnd(&tags)

        // Header fields.
        var fields: [(String, String)] = []
        if chance(0.94) {
            fields.append((pick(["Host", "Host", "host", "HOST", "hOsT"]),
                           pick(["example.com", "localhost:8080", "127.0.0.1", "[::1]:443", "h", "a-b.c_d~e"])))
            if chance(0.03) { fields.append(("Host", pick(["example.com", "other"]))); tags.append("host:dup") }
        } else {
            tags.append("host:none")
        }
        for _ in 0..<int(0...4) {
            fields.append(pick([("User-Agent", "curl/8.5.0"), ("Accept", "*/*"), ("X-Request-Id", "abc123"),
                                ("Cookie", "a=b; c=d"), ("Accept-Encoding", "gzip, deflate"),
                                ("Connection", "keep-alive"), ("Connection", "close"), ("Connection", "keep-alive, x-foo"),
                                ("Expect", "100-continue"), ("X-Empty", ""), ("Via", "1.1 proxy"),
                                ("X-Obs", "caf\u{E9}")]))
        }

        // Body framing.
        var body: [UInt8] = []
        let mode = int(0...99)
        if mode < 25 {
            // No body.
        } else if mode < 60 {
            let n = int(0...40)
            fields.append(contentLength(n, &tags))
            if chance(0.08) {
                let other = chance(0.5) ? "\(n)" : "\(n + int(1...5))"
                fields.append((pick(["Content-Length", "content-length"]), other))
                tags.append("cl:dup=\(other)")
            }
            body = bodyBytes(n)
        } else if mode < 96 {
            fields.append(transferEncoding(&tags))
            if chance(0.05) {
                let second = pick(["chunked", "gzip", "identity"])
                fields.append(("Transfer-Encoding", second))
                tags.append("te:dup=\(second)")
            }
            body = chunkedBody(&tags)
        } else {
            let n = int(1...20)
            let both = [("Content-Length", "\(n)"), transferEncoding(&tags)]
            fields += chance(0.5) ? both : both.reversed()
            tags.append("cl+te")
            body = chance(0.5) ? chunkedBody(&tags) : bodyBytes(n)
        }
        // Shuffle the fields (Fisher–Yates with our generator).
        if fields.count > 1 {
            for i in stride(from: fields.count - 1, to: 0, by: -1) { fields.swapAt(i, int(0...i)) }
        }

        for (name, value) in fields {
            var line = Array(name.utf8) + Array(":".utf8)
            if chance(0.03) {
                let m = int(0...11)
                switch m {
                case 0: line = Array(name.utf8) + Array(" :".utf8); tags.append("field:space-before-colon")
                case 1: line = Array(name.utf8) + Array("\t:".utf8); tags.append("field:tab-before-colon")
                case 2: line = Array(name.replacingOccurrences("-", "_").utf8) + Array(":".utf8); tags.append("field:underscore")
                default: break
                }
                var v = Array((" " + value).utf8)
                switch m {
                case 3: v = Array(("\t" + value + "\t ").utf8); tags.append("field:ows:\(name.lowercased())")
                case 4: v += Array("\r\n folded".utf8); tags.append("field:obs-fold")
                case 5: v += Array("\tx\r\n\tmore".utf8); tags.append("field:obs-fold-tab")
                case 6: v.insert(0x0D, at: int(0...v.count)); tags.append("field:bare-cr")
                case 7: v.insert(0x00, at: int(0...v.count)); tags.append("field:nul")
                case 8: v.insert(pick([0x01, 0x0B, 0x0C, 0x1F, 0x7F]), at: int(0...v.count)); tags.append("field:ctl")
                case 9: v.append(0xFF); tags.append("field:obs-text")
                case 10: v = []; tags.append("field:empty")
                case 11: v.insert(0x0A, at: int(1...v.count)); tags.append("field:bare-lf")
                default: break
                }
                line += v
            } else {
                line += Array((" " + value).utf8)
            }
            out += line
            out += lineEnd(&tags)
        }
        out += lineEnd(&tags)

        // One raw byte-level mutation of the head now and then.
        if chance(0.06), !out.isEmpty {
            let at = int(0...(out.count - 1))
            let byte = pick([UInt8(0x0D), 0x0A, 0x00, 0x20, 0x09, 0x3A, 0x7F, 0x80, 0x2C, 0x3B, 0x22])
            if chance(0.5) { out.insert(byte, at: at); tags.append("raw:insert \(byte)@\(at)") } else { out[at] = byte; tags.append("raw:replace \(byte)@\(at)") }
        }
        return GeneratedRequest(bytes: out + body + Array(Self.sentinel.utf8), tags: tags)
    }

    mutating func lineEnd(_ tags: inout [String]) -> [UInt8] {
        if chance(0.015) {
            let e = pick(["\n", "\r", "\r\r\n", "\n\r"])
            tags.append("eol:\(escaped(e.utf8))")
            return Array(e.utf8)
        }
        return [0x0D, 0x0A]
    }

    mutating func contentLength(_ n: Int, _ tags: inout [String]) -> (String, String) {
        let name = pick(["Content-Length", "Content-Length", "content-length", "CONTENT-LENGTH", "Content-length"])
        guard chance(0.2) else { return (name, "\(n)") }
        let value = pick(["+\(n)", "-\(n)", "0\(n)", " \(n) ", "\(n), \(n)", "\(n),\(n)", "\(n) \(n)",
                          "0x\(String(n, radix: 16))", "", "\(n)\t", "\(n).0", "00000000000000000\(n)",
                          "99999999999999999999", "\(n);", "\"\(n)\""])
        tags.append("cl:\(escaped(value.utf8))")
        return (name, value)
    }

    mutating func transferEncoding(_ tags: inout [String]) -> (String, String) {
        let name = pick(["Transfer-Encoding", "Transfer-Encoding", "transfer-encoding", "TRANSFER-ENCODING"])
        guard chance(0.25) else { return (name, "chunked") }
        let value = pick(["Chunked", "CHUNKED", "chunked ", "chunked, chunked", "gzip, chunked", "chunked, gzip",
                          "chunked;q=1", "\"chunked\"", "identity, chunked", "chunked,", ", chunked", "chunk",
                          "xchunked", "chunked\t", "gzip", "", "deflate,chunked"])
        tags.append("te:\(escaped(value.utf8))")
        return (name, value)
    }

    mutating func bodyBytes(_ n: Int) -> [UInt8] {
        // Bodies that look like framing, so a disagreement about the length shows up as a
        // different next message.
        let pool = Array("0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\nabcdefghij".utf8)
        return (0..<n).map { _ in pool[int(0...(pool.count - 1))] }
    }

    mutating func chunkedBody(_ tags: inout [String]) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<int(0...3) {
            let size = int(1...20)
            out += Array(sizeLine(size, &tags).utf8)
            out += bodyBytes(size)
            if chance(0.03) {
                let t = pick(["\n", "\r", "", "X\r\n", "\r\r\n"])
                tags.append("chunk-end:\(escaped(t.utf8))")
                out += Array(t.utf8)
            } else {
                out += [0x0D, 0x0A]
            }
        }
        out += Array(sizeLine(0, &tags).utf8)
        if chance(0.15) {
            let trailer = pick(["X-T: v\r\n", "X-T: v\r\nX-U:\r\n", "Checksum: abc\r\n",
                                "X-T : v\r\n", "X-T\r\n", "X-T: a\r\n folded\r\n", "X-T: a\nb\r\n", ": v\r\n"])
            tags.append("trailer:\(escaped(trailer.utf8))")
            out += Array(trailer.utf8)
        }
        if chance(0.02) { out += [0x0A]; tags.append("final:lf") } else { out += [0x0D, 0x0A] }
        return out
    }

    mutating func sizeLine(_ size: Int, _ tags: inout [String]) -> String {
        var s = String(size, radix: 16, uppercase: chance(0.3))
        if chance(0.05) { s = "000" + s; tags.append("size:leading-zeros") }
        if chance(0.04) {
            s = pick(["0x" + s, "-" + s, " " + s, "+" + s, "fffffffffffffffff" + s, s + "g"])
            tags.append("size:\(s)")
        }
        if chance(0.15) {
            let ext = pick([";a=b", ";a", ";a=\"x y\"", ";a=b;c", ";a=\"q\\\"d\"",
                            " ;a=b", "\t;a", "; a=b", ";a =b",
                            " ", "\t", " xyz", ";", ";=b", ";a b", ";a=\"unterminated", ";a=b\"c"])
            tags.append("ext:\(escaped(ext.utf8))")
            s += ext
        }
        if chance(0.02) {
            tags.append("size-eol:lf")
            return s + "\n"
        }
        return s + "\r\n"
    }
}

extension String {
    fileprivate func replacingOccurrences(_ a: Character, _ b: Character) -> String {
        String(map { $0 == a ? b : $0 })
    }
}

// MARK: - Classifying disagreements

/// Disagreements already tracked as parser bugs (tests with `withKnownIssue` elsewhere), or
/// where llhttp is stricter than RFC 9112 and refuses a valid request. Keyed by the generator tag
/// that causes them; only consulted when llhttp *refused* the input (a different framing without
/// an error is never excused).
func knownDisagreement(_ tags: [String]) -> String? {
    for tag in tags {
        // BWS before ";" is RFC 9112 §7.1.1 grammar, but llhttp refuses it without a lenient flag.
        if ["ext: ;a=b", "ext:\\t;a", "ext:; a=b"].contains(tag) {
            return "llhttp stricter than RFC 9112: BWS in chunk extensions"
        }
        // OWS is SP / HTAB (RFC 9110 §5.6.3), trimmed from every field value; llhttp refuses HTAB
        // around Content-Length and does not see "chunked\t" as chunked.
        if ["cl:\\t5", "te:chunked\\t", "field:ows:content-length", "field:ows:transfer-encoding"].contains(tag)
            || (tag.hasPrefix("cl:") && tag.hasSuffix("\\t")) {
            return "llhttp stricter than RFC 9112: HTAB as OWS in Content-Length / Transfer-Encoding"
        }
        // Empty list elements must be accepted (RFC 9110 §5.6.1); llhttp refuses them in Transfer-Encoding.
        if ["te:chunked,", "te:, chunked"].contains(tag) {
            return "llhttp stricter than RFC 9110: empty list elements in Transfer-Encoding"
        }
    }
    return nil
}

// MARK: - The test

@Suite struct DifferentialTests {
    struct Stats: CustomStringConvertible {
        var generated = 0
        var devMeshAccepted = 0
        var llhttpAccepted = 0
        var bothAccepted = 0
        var devMeshStricter = 0
        var bodiesCompared = 0
        var chunkedCompared = 0
        var lengthCompared = 0
        var disagreements = 0
        var knownDisagreements: [String: Int] = [:]
        var description: String {
            "generated \(generated), DevMeshHTTP1 accepted \(devMeshAccepted), llhttp accepted \(llhttpAccepted), both \(bothAccepted), "
                + "only llhttp \(devMeshStricter), message ends compared \(bodiesCompared) (chunked \(chunkedCompared), length \(lengthCompared)), "
                + "unexpected disagreements \(disagreements), known \(knownDisagreements)"
        }
    }

    @Test func devMeshNeverAcceptsWhatLLHTTPRefusesOrFramesDifferently() {
        var generator = RequestGenerator(rng: SplitMix64(seed: 0xDE7_3E5B))
        var stats = Stats()
        var reported = 0
        for _ in 0..<3000 {
            let request = generator.make()
            let input = request.bytes
            stats.generated += 1
            let whole = runLLHTTP(input, byteByByte: false)
            if whole.head != nil { stats.llhttpAccepted += 1 }

            guard case .complete(let head) = parseRequest(input) else {
                if whole.head != nil { stats.devMeshStricter += 1 }
                continue
            }
            stats.devMeshAccepted += 1

            let ll = runLLHTTP(input, byteByByte: true)
            var problems: [String] = []
            if let llHead = ll.head {
                stats.bothAccepted += 1
                if llHead.method.rawValue != head.method { problems.append("method \(llHead.method.rawValue) ≠ \(head.method)") }
                if llHead.uri != head.target { problems.append("target \(llHead.uri) ≠ \(head.target)") }
                if llHead.version != HTTPVersion(major: 1, minor: head.minorVersion) {
                    problems.append("version \(llHead.version) ≠ 1.\(head.minorVersion)")
                }
                if ll.headEnd != head.headLength { problems.append("head ends at \(ll.headEnd.map(String.init) ?? "-") ≠ \(head.headLength)") }
                switch devMeshMessage(input, head) {
                case .ends(let end, let body):
                    stats.bodiesCompared += 1
                    if head.framing == .chunked { stats.chunkedCompared += 1 }
                    if case .length = head.framing { stats.lengthCompared += 1 }
                    if ll.messageEnd != end || ll.bodyBytes != body {
                        problems.append("message ends at \(end) with \(body) body bytes, llhttp: end \(ll.messageEnd.map(String.init) ?? "-") body \(ll.bodyBytes) error \(ll.error ?? "-")")
                    }
                case .incomplete:
                    if let end = ll.messageEnd { problems.append("DevMesh: body incomplete, llhttp: message ends at \(end)") }
                case .invalidBody:
                    break  // stricter on the body: fine
                }
            } else {
                problems.append("llhttp refused the head: \(ll.error ?? "no head and no error")")
            }
            guard !problems.isEmpty else { continue }

            let message = "DevMeshHTTP1 accepted (\(head.framing)) but llhttp disagrees: \(problems.joined(separator: "; "))\n  input: \"\(escaped(input))\"\n  tags: \(request.tags)"
            // Excusable only when llhttp refused the input outright (no different framing).
            let llhttpRefused = ll.error != nil && ll.messageEnd == nil
            if llhttpRefused, let known = knownDisagreement(request.tags) {
                stats.knownDisagreements[known, default: 0] += 1
                if known.hasPrefix("known parser bug") {
                    withKnownIssue(Comment(rawValue: known)) { Issue.record(Comment(rawValue: message)) }
                }
            } else {
                stats.disagreements += 1
                reported += 1
                if reported <= 25 { Issue.record(Comment(rawValue: message)) }
            }
        }
        print("HTTP/1 differential: \(stats)")
        // The corpus must really exercise accepted inputs, of every framing.
        #expect(stats.bothAccepted >= 500, "\(stats)")
        #expect(stats.chunkedCompared >= 200, "\(stats)")
        #expect(stats.lengthCompared >= 200, "\(stats)")
        #expect(stats.devMeshAccepted < stats.generated, "the corpus must contain refused inputs too")
    }

    /// A few hand-written smuggling classics, checked the same way (sanity check of the harness).
    @Test(arguments: [
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n0\r\n\r\nSMUGGLED" + RequestGenerator.sentinel,
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nT: 1\r\n\r\n" + RequestGenerator.sentinel,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + RequestGenerator.sentinel,
        "\r\nDELETE /a?b HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi" + RequestGenerator.sentinel,
    ])
    func harnessAgreesOnHandWrittenRequests(_ text: String) throws {
        let input = bytes(text)
        let head = try #require(expectComplete(parseRequest(input), input))
        let ll = runLLHTTP(input, byteByByte: true)
        let llHead = try #require(ll.head)
        #expect(llHead.method.rawValue == head.method)
        #expect(llHead.uri == head.target)
        #expect(ll.headEnd == head.headLength)
        guard case .ends(let end, let body) = devMeshMessage(input, head) else {
            Issue.record("message does not end")
            return
        }
        #expect(ll.messageEnd == end)
        #expect(ll.bodyBytes == body)
        #expect(end == input.count - RequestGenerator.sentinel.utf8.count)
        // And in one write, llhttp goes on to the next message.
        let whole = runLLHTTP(input, byteByByte: false)
        #expect(whole.nextHead?.uri == "/next")
    }
}
