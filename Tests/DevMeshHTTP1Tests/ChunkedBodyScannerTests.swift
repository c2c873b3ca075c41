import DevMeshHTTP1
import Testing

/// Outcome of scanning a whole input, however it was split.
enum ScanOutcome: Equatable, CustomStringConvertible {
    /// The body ended after this many bytes.
    case done(consumed: Int)
    /// Every byte was consumed and the body has not ended.
    case incomplete
    case invalid(HTTP1Violation.Kind)
    /// The scanner broke its contract (consumed more than given, or stopped early without ending).
    case broken(String)

    var description: String {
        switch self {
        case .done(let n): return "done(\(n))"
        case .incomplete: return "incomplete"
        case .invalid(let k): return "invalid(\(k))"
        case .broken(let why): return "broken(\(why))"
        }
    }
}

/// Feeds `input` to a fresh scanner in pieces ending at `cuts`, like a socket would, stopping at
/// the first piece of which not everything belongs to the body.
func scanChunked(_ input: [UInt8], cuts: [Int] = [], limits: HTTP1Limits = HTTP1Limits()) -> ScanOutcome {
    var scanner = ChunkedBodyScanner(limits: limits)
    var start = 0
    var total = 0
    for end in (cuts.filter { $0 > 0 && $0 < input.count }.sorted() + [input.count]) where end > start {
        let piece = Array(input[start..<end])
        switch scanPiece(&scanner, piece) {
        case .failure(let error):
            return .invalid(error.kind)
        case .success(let n):
            if n > piece.count { return .broken("consumed \(n) of \(piece.count) bytes") }
            total += n
            if scanner.isDone { return .done(consumed: total) }
            if n != piece.count { return .broken("consumed \(n) of \(piece.count) bytes without ending") }
        }
        start = end
    }
    return scanner.isDone ? .done(consumed: total) : .incomplete
}

/// One call of `scan`, its typed error as a value.
func scanPiece(_ scanner: inout ChunkedBodyScanner, _ piece: [UInt8]) -> Result<Int, HTTP1Violation> {
    piece.withUnsafeBytes { buf in
        do throws(HTTP1Violation) {
            return .success(try scanner.scan(buf))
        } catch {
            return .failure(error)
        }
    }
}

@Suite struct ChunkedBodyScannerTests {
    static let validBodies: [String] = [
        "0\r\n\r\n",
        "5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
        "0005\r\nhello\r\n000\r\n\r\n",
        "1\r\n\r\r\n2\r\n\r\n\r\n0\r\n\r\n",  // data bytes that look like framing
        "5;name=value\r\nhello\r\n0\r\n\r\n",
        "5;a=b;c=\"quoted; string\"\r\nhello\r\n0;last\r\n\r\n",
        "5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
        "5\r\nhello\r\n0\r\nX-A: 1\r\nChecksum:\tabc def\r\nX-Empty:\r\n\r\n",
        "3\r\n\u{0}\u{1}\u{2}\r\n0\r\n\r\n",  // data is opaque
        "10\r\n0123456789abcdef\r\n0\r\n\r\n",
        "1\r\nx\r\n0\r\n\r\n",
    ]

    @Test(arguments: validBodies)
    func validBodyInOnePiece(_ text: String) {
        let input = bytes(text)
        #expect(scanChunked(input) == .done(consumed: input.count), "\(escaped(input))")
    }

    @Test(arguments: validBodies)
    func validBodyByteByByte(_ text: String) {
        let input = bytes(text)
        #expect(scanChunked(input, cuts: Array(0..<input.count)) == .done(consumed: input.count), "\(escaped(input))")
        // Every prefix is simply incomplete.
        for n in 0..<input.count {
            #expect(scanChunked(Array(input.prefix(n))) == .incomplete, "prefix \(n) of \(escaped(input))")
        }
    }

    @Test(arguments: validBodies)
    func validBodyInEveryTwoPieceSplitAndRandomChunkings(_ text: String) {
        let input = bytes(text)
        for cut in 0...input.count {
            #expect(scanChunked(input, cuts: [cut]) == .done(consumed: input.count), "cut at \(cut) of \(escaped(input))")
        }
        var rng = SplitMix64(seed: UInt64(input.count) &* 0x1234_5678)
        for _ in 0..<2 {
            let cuts = (0..<Int.random(in: 1...max(1, input.count / 2), using: &rng)).map { _ in Int.random(in: 0...input.count, using: &rng) }
            #expect(scanChunked(input, cuts: cuts) == .done(consumed: input.count), "cuts \(cuts.sorted()) of \(escaped(input))")
        }
    }

    @Test(arguments: validBodies)
    func stopsExactlyAtTheEndOfTheBodyWhenAPipelinedRequestFollows(_ text: String) {
        let body = bytes(text)
        let next = bytes("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        let input = body + next
        // In one piece: the scanner reports only the body's bytes as consumed.
        var scanner = ChunkedBodyScanner()
        #expect(scanPiece(&scanner, input) == .success(body.count))
        #expect(scanner.isDone)
        // Once done, further bytes are never consumed.
        #expect(scanPiece(&scanner, next) == .success(0))
        #expect(scanner.isDone)
        // In random pieces too.
        var rng = SplitMix64(seed: UInt64(body.count))
        for _ in 0..<3 {
            let cuts = (0..<4).map { _ in Int.random(in: 0...input.count, using: &rng) }
            #expect(scanChunked(input, cuts: cuts) == .done(consumed: body.count), "cuts \(cuts.sorted()) of \(escaped(input))")
        }
        #expect(scanChunked(input, cuts: Array(0..<input.count)) == .done(consumed: body.count))
    }

    @Test func largeChunkSizeIsTrackedAcrossPieces() throws {
        // 0x10000 bytes of data fed in 4 KiB pieces.
        let data = [UInt8](repeating: 0x61, count: 0x10000)
        let input = bytes("10000\r\n") + data + bytes("\r\n0\r\n\r\n")
        let cuts = Array(stride(from: 0, to: input.count, by: 4096))
        #expect(scanChunked(input, cuts: cuts) == .done(consumed: input.count))
    }

    @Test func fifteenSignificantHexDigitsAreAccepted() {
        // Accepted as a size (the data is just not there yet).
        #expect(scanChunked(bytes("fffffffffffffff\r\nabc")) == .incomplete)
        #expect(scanChunked(bytes("000000000000000000000fffffffffffffff\r\n")) == .incomplete)
        #expect(scanChunked(bytes("00000000000000000000000000000\r\n\r\n")) == .done(consumed: 33))
    }

    struct InvalidCase: Sendable, CustomTestStringConvertible {
        var name: String
        var input: [UInt8]
        var kind: HTTP1Violation.Kind
        init(_ name: String, _ input: String, _ kind: HTTP1Violation.Kind) { self.init(name, bytes(input), kind) }
        init(_ name: String, _ input: [UInt8], _ kind: HTTP1Violation.Kind) {
            self.name = name
            self.input = input
            self.kind = kind
        }
        var testDescription: String { "\(name): \"\(escaped(input.prefix(60)))\"" }
    }

    static let invalidBodies: [InvalidCase] = [
        .init("non-hex size", "g\r\n", .invalidChunkSize),
        .init("empty size line", "\r\n", .invalidChunkSize),
        .init("negative size", "-5\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        .init("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        .init("plus sign", "+5\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        .init("leading space", " 5\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        .init("invalid char after size", "5x\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        .init("NUL after size", [0x35, 0x00, 0x0D, 0x0A] + bytes("hello\r\n0\r\n\r\n"), .invalidChunkSize),
        .init("16 significant digits", "1000000000000000\r\n", .chunkSizeOverflow),
        .init("16 significant digits after zeros", "0001000000000000000\r\n", .chunkSizeOverflow),
        .init("2^64 + 5", "10000000000000005\r\nhello\r\n0\r\n\r\n", .chunkSizeOverflow),
        .init("missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", .invalidChunkTerminator),
        .init("data longer than size", "5\r\nhello!\r\n0\r\n\r\n", .invalidChunkTerminator),
        .init("data shorter than size", "5\r\nhell\r\n0\r\n\r\n", .invalidChunkTerminator),
        .init("CR then garbage after data", "5\r\nhello\rX0\r\n\r\n", .invalidChunkTerminator),
        .init("bare LF after data", "5\r\nhello\n0\r\n\r\n", .invalidChunkTerminator),
        .init("bare LF after extension", "5;a=b\nhello\r\n0\r\n\r\n", .bareLF),
        // RFC 9112 allows BWS in chunk extensions, llhttp does not: devmesh is as strict as llhttp.
        .init("BWS before ';'", "5 ;a=b\r\nhello\r\n0\r\n\r\n", .invalidChunkExtension),
        .init("HTAB before ';'", "5\r\nhello\r\n0\t;x\r\n\r\n", .invalidChunkExtension),
        .init("BWS after ';'", "5; a=b\r\nhello\r\n0\r\n\r\n", .invalidChunkExtension),
        .init("BWS before '='", "5;a =b\r\nhello\r\n0\r\n\r\n", .invalidChunkExtension),
        .init("bare CR in size line", "5\rXhello\r\n0\r\n\r\n", .bareCR),
        .init("CR CR LF in size line", "5\r\r\nhello\r\n0\r\n\r\n", .bareCR),
        .init("bare LF in trailer", "0\r\nX-A: b\n\r\n", .bareLF),
        .init("bare CR in trailer", "0\r\nX-A: b\rc\r\n\r\n", .bareCR),
        .init("bare LF as final line", "0\r\n\n", .invalidTrailer),
        .init("bare CR at the end", "0\r\n\rX", .bareCR),
        .init("control character in extension", "5;a=\u{1}\r\nhello\r\n0\r\n\r\n", .invalidChunkExtension),
        .init("DEL in extension", "5;a\u{7F}\r\nhello\r\n0\r\n\r\n", .invalidChunkExtension),
        .init("control character in trailer", "0\r\nX-A: \u{1}\r\n\r\n", .invalidTrailer),
        .init("trailer starting with a colon", "0\r\n: b\r\n\r\n", .invalidTrailer),
        .init("obs-fold in trailer (space)", "0\r\nX-A: a\r\n b\r\n\r\n", .obsoleteLineFolding),
        .init("obs-fold in trailer (tab)", "0\r\nX-A: a\r\n\tb\r\n\r\n", .obsoleteLineFolding),
        .init("trailer starting with whitespace", "0\r\n X-A: a\r\n\r\n", .obsoleteLineFolding),
    ]

    @Test(arguments: invalidBodies)
    func invalidBodyIsRefused(_ c: InvalidCase) {
        // Whichever way the bytes arrive, the same violation.
        #expect(scanChunked(c.input) == .invalid(c.kind), "one piece")
        #expect(scanChunked(c.input, cuts: Array(0..<c.input.count)) == .invalid(c.kind), "byte by byte")
        var rng = SplitMix64(seed: UInt64(c.input.count))
        let cuts = (0..<3).map { _ in Int.random(in: 0...c.input.count, using: &rng) }
        #expect(scanChunked(c.input, cuts: cuts) == .invalid(c.kind), "cuts \(cuts.sorted())")
    }

    @Test func bareLFRightAfterTheSizeIsRefused() {
        // RFC 9112 §7.1: chunk-size line ends in CRLF. Refused, though the kind is the generic one.
        #expect(scanChunked(bytes("5\nhello\r\n0\r\n\r\n")) == .invalid(.invalidChunkSize))
        #expect(scanChunked(bytes("0\n\r\n")) == .invalid(.invalidChunkSize))
    }

    @Test func statusOfScannerViolationsIs400() {
        for c in Self.invalidBodies {
            var scanner = ChunkedBodyScanner()
            switch scanPiece(&scanner, c.input) {
            case .success: Issue.record("accepted \(escaped(c.input))")
            case .failure(let error): #expect(error.status == 400, "\(c.name)")
            }
        }
    }

    @Test func tooLongSizeLineIsRefused() {
        let limit = HTTP1Limits().maxChunkLineLength
        // A line (size + extensions + CR) at the limit passes.
        let atLimit = bytes("5;" + String(repeating: "x", count: limit - 3) + "\r\nhello\r\n0\r\n\r\n")
        #expect(scanChunked(atLimit) == .done(consumed: atLimit.count))
        let over = bytes("5;" + String(repeating: "x", count: limit) + "\r\nhello\r\n0\r\n\r\n")
        #expect(scanChunked(over) == .invalid(.invalidChunkExtension))
        #expect(scanChunked(over, cuts: Array(stride(from: 0, to: over.count, by: 7))) == .invalid(.invalidChunkExtension))
        // Endless leading zeros are a too-long line too, not an endless loop.
        let zeros = bytes(String(repeating: "0", count: limit + 10))
        #expect(scanChunked(zeros) == .invalid(.invalidChunkExtension))
        // Before the CR arrives.
        let partial = bytes("5;" + String(repeating: "x", count: limit + 10))
        #expect(scanChunked(partial) == .invalid(.invalidChunkExtension))
    }

    @Test func oversizedTrailersAreRefused() {
        let limit = HTTP1Limits().maxTrailerBytes
        let field = "X-T: " + String(repeating: "t", count: 100) + "\r\n"
        let many = bytes("0\r\n" + String(repeating: field, count: limit / 100 + 10) + "\r\n")
        #expect(scanChunked(many) == .invalid(.invalidTrailer))
        let one = bytes("0\r\nX: " + String(repeating: "t", count: limit + 1) + "\r\n\r\n")
        #expect(scanChunked(one) == .invalid(.invalidTrailer))
        #expect(scanChunked(one, cuts: [10, 100, 9000]) == .invalid(.invalidTrailer))
        // Just under the limit is fine.
        let ok = bytes("0\r\nX: " + String(repeating: "t", count: limit / 2) + "\r\n\r\n")
        #expect(scanChunked(ok) == .done(consumed: ok.count))
    }

    @Test func customLimits() {
        var limits = HTTP1Limits()
        limits.maxChunkLineLength = 8
        limits.maxTrailerBytes = 10
        #expect(scanChunked(bytes("5;abcdefgh\r\nhello\r\n0\r\n\r\n"), limits: limits) == .invalid(.invalidChunkExtension))
        #expect(scanChunked(bytes("0\r\nX-Long-Trailer: 1\r\n\r\n"), limits: limits) == .invalid(.invalidTrailer))
        let ok = bytes("5;ab\r\nhello\r\n0\r\nX: 1\r\n\r\n")
        #expect(scanChunked(ok, limits: limits) == .done(consumed: ok.count))
    }

    // MARK: Known leniencies (RFC 9112 §7.1.1 and §7.1.2)

    /// `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )` with
    /// `chunk-ext-name = token` and `chunk-ext-val = token / quoted-string`. Anything else on the
    /// size line is invalid; llhttp (a common upstream parser) refuses these.
    @Test(arguments: [
        "5 xyz\r\nhello\r\n0\r\n\r\n",  // whitespace then no ';'
        "5;\r\nhello\r\n0\r\n\r\n",  // empty extension name
        "5;=b\r\nhello\r\n0\r\n\r\n",
        "5;a b\r\nhello\r\n0\r\n\r\n",  // space inside a token
        "5;a=\"unterminated\r\nhello\r\n0\r\n\r\n",
        "5;a=b\"c\r\nhello\r\n0\r\n\r\n",
    ])
    func chunkExtensionSyntaxIsValidated(_ text: String) {
        let input = bytes(text)
        #expect(scanChunked(input) == .invalid(.invalidChunkExtension), "\(escaped(input))")
    
    }

    /// A trailer line is a `field-line` (`field-name ":" OWS field-value OWS`), and whitespace
    /// before the colon must be refused (RFC 9112 §5.1).
    @Test(arguments: [
        "0\r\nX-NoColon\r\n\r\n",
        "0\r\nX-A : b\r\n\r\n",
        "0\r\nX(A): b\r\n\r\n",
    ])
    func trailerLinesAreFieldLines(_ text: String) {
        let input = bytes(text)
        let outcome = scanChunked(input)
        #expect(outcome == .invalid(.invalidTrailer) || outcome == .invalid(.whitespaceBeforeColon), "\(escaped(input)) gave \(outcome)")
    
    }
}
