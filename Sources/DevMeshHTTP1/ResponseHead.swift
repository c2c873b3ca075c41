/// A parsed response head from an upstream.
public struct HTTP1ResponseHead: Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var minorVersion: Int
    public var fields: [HTTPField]
    /// Byte range of each field line (CRLF included), parallel to `fields`.
    public var fieldLines: [Range<Int>]
    /// What each field is, parallel to `fields`.
    public var fieldKinds: [KnownField]
    /// Byte range of the status line, CRLF excluded.
    public var statusLine: Range<Int>
    public var headLength: Int
    public var framing: BodyFraming
    /// Whether the upstream allows another request on this connection afterwards.
    public var keepAlive: Bool
    /// Lower-cased field names listed in `Connection` (hop-by-hop).
    public var connectionOptions: [String]

    /// 1xx other than 101: more heads follow before the final response.
    public var isInterim: Bool { status >= 100 && status < 200 && status != 101 }
}

/// Parses response heads; `requestMethod` decides whether a body can follow (RFC 9112 §6.3).
public struct HTTP1ResponseParser: Sendable {
    public var limits: HTTP1Limits

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    public func parse(_ buf: UnsafeRawBufferPointer, requestMethod: String) -> HTTP1ParseResult<HTTP1ResponseHead> {
        guard let lf = FieldSection.lineEnd(buf, from: 0) else {
            if buf.count > limits.maxRequestLineLength {
                return .invalid(HTTP1Violation(.malformedStatusLine, "the status line is longer than \(limits.maxRequestLineLength) bytes"))
            }
            return .incomplete
        }
        guard lf > 0, buf[lf - 1] == ByteClass.cr else {
            return .invalid(HTTP1Violation(.bareLF, "the status line ends with a bare LF"))
        }
        let line = 0..<(lf - 1)
        // HTTP/1.x SP 3DIGIT [SP reason]
        guard line.count >= 12, buf.equalsExactly(0..<5, "HTTP/"),
              buf[5] == UInt8(ascii: "1"), buf[6] == UInt8(ascii: "."),
              buf[7] == UInt8(ascii: "0") || buf[7] == UInt8(ascii: "1"), buf[8] == ByteClass.sp else {
            return .invalid(HTTP1Violation(.malformedStatusLine, "the upstream's status line is not `HTTP/1.1 NNN reason`"))
        }
        var status = 0
        for i in 9..<12 {
            let d = buf[i]
            guard d >= 0x30, d <= 0x39 else {
                return .invalid(HTTP1Violation(.malformedStatusLine, "the upstream's status code is not three digits"))
            }
            status = status * 10 + Int(d - 0x30)
        }
        guard status >= 100 else {
            return .invalid(HTTP1Violation(.malformedStatusLine, "the upstream's status code \(status) is out of range"))
        }
        var reason = ""
        if line.count > 12 {
            guard buf[12] == ByteClass.sp else {
                return .invalid(HTTP1Violation(.malformedStatusLine, "the upstream's status code is not followed by a space"))
            }
            for i in 13..<line.upperBound where !ByteClass.isFieldValue(buf[i]) {
                return .invalid(HTTP1Violation(.invalidCharacter, "the upstream's reason phrase contains a control character"))
            }
            reason = buf.string(13..<line.upperBound)
        }
        let minor = Int(buf[7] - 0x30)
        switch FieldSection.parse(buf, from: lf + 1, limits: limits) {
        case .incomplete: return .incomplete
        case .invalid(let v): return .invalid(v)
        case .complete(let section):
            return interpret(status: status, reason: reason, minor: minor, statusLine: line, section: section, requestMethod: requestMethod)
        }
    }

    private func interpret(status: Int, reason: String, minor: Int, statusLine: Range<Int>, section: FieldSection,
                           requestMethod: String) -> HTTP1ParseResult<HTTP1ResponseHead> {
        // Counted and remembered rather than collected: a response nearly always has one
        // Content-Length and `Connection: keep-alive`, and this runs for every one of them.
        var contentLength: String?
        var contentLengthFields = 0
        var lastCoding: String?
        var chunkedCount = 0
        var sawTransferEncoding = false
        var keepAlive = minor == 1
        var sawClose = false
        var options: [String] = []
        for (field, kind) in zip(section.fields, section.kinds) {
            switch kind {
            case .contentLength:
                contentLengthFields += 1
                if contentLength == nil { contentLength = field.value }
            case .transferEncoding:
                sawTransferEncoding = true
                forEachListToken(field.value) { coding in
                    lastCoding = coding
                    if coding == "chunked" { chunkedCount += 1 }
                }
            case .connection:
                forEachListToken(field.value) { token in
                    switch token {
                    case "close": sawClose = true
                    case "keep-alive": if minor == 0 { keepAlive = true }
                    case "upgrade": break
                    default: options.append(token)
                    }
                }
            default: break
            }
        }
        if sawClose { keepAlive = false }
        // An HTTP/1.0 message with Transfer-Encoding has faulty framing: close after it (RFC 9112 §6.1).
        if minor == 0, sawTransferEncoding { keepAlive = false }

        let framing: BodyFraming
        if requestMethod == "HEAD" || (status >= 100 && status < 200) || status == 204 || status == 304 {
            framing = .none
        } else if requestMethod == "CONNECT", status >= 200, status < 300 {
            framing = .untilClose
            keepAlive = false
        } else if sawTransferEncoding {
            if contentLength != nil {
                return .invalid(HTTP1Violation(.contentLengthWithTransferEncoding, "the upstream sent both Content-Length and Transfer-Encoding"))
            }
            if lastCoding == "chunked", chunkedCount == 1 {
                framing = .chunked
            } else {
                // Not chunked last: the body runs until the upstream closes (RFC 9112 §6.3).
                framing = .untilClose
                keepAlive = false
            }
        } else if let first = contentLength {
            // Identical duplicates are one value (RFC 9110 §8.6); anything else is a broken upstream.
            var value: String? = first
            if contentLengthFields > 1 || first.utf8.contains(UInt8(ascii: ",")) {
                let all = zip(section.fields, section.kinds).filter { $0.1 == .contentLength }.map(\.0.value)
                let values = Set(all.flatMap { $0.split(separator: ",").map { $0.trimmingOWS() } })
                value = values.count == 1 ? values.first : nil
            }
            guard let value, let length = HTTP1RequestParser.contentLength(value) else {
                return .invalid(HTTP1Violation(.invalidContentLength, "the upstream sent an invalid Content-Length"))
            }
            framing = length == 0 ? .none : .length(length)
        } else {
            framing = .untilClose
            keepAlive = false
        }
        return .complete(HTTP1ResponseHead(
            status: status, reason: reason, minorVersion: minor, fields: section.fields, fieldLines: section.lines,
            fieldKinds: section.kinds,
            statusLine: statusLine, headLength: section.end, framing: framing, keepAlive: keepAlive,
            connectionOptions: options))
    }
}
