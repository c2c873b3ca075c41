// libFuzzer target for the DevMeshHTTP1 sources, compiled together with them into one module
// (see Fuzz/run.sh). Runs the request parser, the response parser and the chunked body scanner on
// every input and checks their invariants with `precondition`.
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buf = UnsafeRawBufferPointer(start: data, count: size)
    checkRequest(buf)
    checkResponse(buf, method: "GET")
    checkResponse(buf, method: "HEAD")
    checkChunked(buf)
    return 0
}

/// A field line range must lie inside the head and end with CRLF.
func checkFieldLines(_ lines: [Range<Int>], fieldCount: Int, headLength: Int, _ buf: UnsafeRawBufferPointer) {
    precondition(lines.count == fieldCount, "fieldLines and fields differ in count")
    var previousEnd = 0
    for r in lines {
        precondition(r.lowerBound >= previousEnd, "field lines overlap or go backwards")
        precondition(r.upperBound <= headLength, "a field line ends after the head")
        precondition(r.count >= 3, "a field line is too short")
        precondition(buf[r.upperBound - 2] == 0x0D && buf[r.upperBound - 1] == 0x0A, "a field line does not end with CRLF")
        previousEnd = r.upperBound
    }
}

func checkRequest(_ buf: UnsafeRawBufferPointer) {
    let parser = HTTP1RequestParser()
    switch parser.parse(buf) {
    case .complete(let head):
        precondition(head.headLength >= 4 && head.headLength <= buf.count, "headLength outside the input")
        precondition(buf[head.headLength - 2] == 0x0D && buf[head.headLength - 1] == 0x0A, "the head does not end with CRLF")
        checkFieldLines(head.fieldLines, fieldCount: head.fields.count, headLength: head.headLength, buf)
        precondition(head.minorVersion == 0 || head.minorVersion == 1, "bad minor version")
        precondition(!head.method.isEmpty && !head.target.isEmpty, "empty method or target")
        if head.minorVersion == 1 { precondition(head.fields.contains { $0.name.caseInsensitiveEquals("host") }, "HTTP/1.1 without Host") }
        switch head.framing {
        case .untilClose: preconditionFailure("a request framed until close")
        case .length(let n): precondition(n > 0 && n <= 1 << 53, "bad length")
        case .chunked: precondition(head.minorVersion == 1, "chunked HTTP/1.0 request")
        case .none: break
        }
        // Only the head's bytes matter: re-parsing exactly them gives the same head.
        let again = parser.parse(UnsafeRawBufferPointer(rebasing: buf[..<head.headLength]))
        guard case .complete(let second) = again else { preconditionFailure("the head alone does not parse") }
        precondition(second == head, "the head alone parses differently")
        // Every strict prefix is incomplete.
        for cut in [0, 1, head.headLength / 2, head.headLength - 2, head.headLength - 1] where cut >= 0 && cut < head.headLength {
            guard case .incomplete = parser.parse(UnsafeRawBufferPointer(rebasing: buf[..<cut])) else {
                preconditionFailure("a prefix of \(cut) bytes of a complete head is not incomplete")
            }
        }
    case .incomplete:
        // Incomplete never exceeds the limits by much: the parser must give up on huge inputs.
        precondition(buf.count <= parser.limits.maxRequestLineLength + parser.limits.maxHeaderBytes + 16, "an oversized input is still incomplete")
    case .invalid(let v):
        precondition([400, 414, 417, 431, 501, 505].contains(v.status), "unexpected status")
        precondition(!v.detail.isEmpty)
    }
}

func checkResponse(_ buf: UnsafeRawBufferPointer, method: String) {
    let parser = HTTP1ResponseParser()
    switch parser.parse(buf, requestMethod: method) {
    case .complete(let head):
        precondition(head.headLength <= buf.count, "headLength outside the input")
        precondition(head.statusLine.lowerBound == 0 && head.statusLine.upperBound + 2 <= head.headLength, "bad statusLine")
        precondition((100...999).contains(head.status), "bad status")
        checkFieldLines(head.fieldLines, fieldCount: head.fields.count, headLength: head.headLength, buf)
        if method == "HEAD" { precondition(head.framing == .none, "a body for HEAD") }
        if head.framing == .untilClose { precondition(!head.keepAlive, "keep-alive with a body until close") }
        let again = parser.parse(UnsafeRawBufferPointer(rebasing: buf[..<head.headLength]), requestMethod: method)
        guard case .complete(let second) = again else { preconditionFailure("the head alone does not parse") }
        precondition(second == head, "the head alone parses differently")
    case .incomplete, .invalid:
        break
    }
}

func checkChunked(_ buf: UnsafeRawBufferPointer) {
    // Once in one piece, once in two pieces split at a point derived from the input: same outcome.
    var whole = ChunkedBodyScanner()
    var wholeResult: Result<Int, HTTP1Violation>
    do throws(HTTP1Violation) {
        wholeResult = .success(try whole.scan(buf))
    } catch {
        wholeResult = .failure(error)
    }
    if case .success(let n) = wholeResult {
        precondition(n <= buf.count, "consumed more than given")
        precondition(whole.isDone || n == buf.count, "stopped early without ending")
    }

    let split = buf.isEmpty ? 0 : Int(buf[0]) % (buf.count + 1)
    var pieces = ChunkedBodyScanner()
    var piecesResult: Result<Int, HTTP1Violation>
    do throws(HTTP1Violation) {
        let a = try pieces.scan(UnsafeRawBufferPointer(rebasing: buf[..<split]))
        precondition(a <= split, "consumed more than given")
        if pieces.isDone {
            piecesResult = .success(a)
        } else {
            precondition(a == split, "stopped early without ending")
            let b = try pieces.scan(UnsafeRawBufferPointer(rebasing: buf[split...]))
            precondition(b <= buf.count - split, "consumed more than given")
            piecesResult = .success(a + b)
        }
    } catch {
        piecesResult = .failure(error)
    }
    switch (wholeResult, piecesResult) {
    case (.success(let x), .success(let y)):
        precondition(x == y && whole.isDone == pieces.isDone, "splitting changed where the body ends")
    case (.failure(let x), .failure(let y)):
        precondition(x.kind == y.kind, "splitting changed the violation")
    default:
        preconditionFailure("splitting changed whether the body is valid")
    }
}
