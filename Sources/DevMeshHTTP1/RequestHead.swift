/// A parsed request head. The bytes it came from stay with the caller; the ranges point into them,
/// so a proxy can forward the field lines it keeps without re-encoding them.
public struct HTTP1RequestHead: Sendable, Equatable {
    public var method: String
    public var target: String
    /// 0 or 1 (HTTP/1.0 or HTTP/1.1).
    public var minorVersion: Int
    public var fields: [HTTPField]
    /// Byte range of each field line (CRLF included), parallel to `fields`.
    public var fieldLines: [Range<Int>]
    /// What each field is, parallel to `fields`.
    public var fieldKinds: [KnownField]
    /// Bytes of the whole head, the final empty line included (leading empty lines too).
    public var headLength: Int
    public var framing: BodyFraming
    /// The Host field (authority of the target for absolute-form).
    public var host: String
    /// Whether the client wants the connection kept open after this exchange.
    public var keepAlive: Bool
    /// The `Upgrade` value when the client asks to switch protocols (`Connection: upgrade`).
    public var upgrade: String?
    /// `Expect: 100-continue`.
    public var expectsContinue: Bool
    /// Lower-cased field names listed in `Connection` (besides close/keep-alive/upgrade): hop-by-hop.
    public var connectionOptions: [String]

    /// The value of the first field of that kind.
    public func value(of kind: KnownField) -> String? {
        guard let i = fieldKinds.firstIndex(of: kind) else { return nil }
        return fields[i].value
    }

    public var isIdempotent: Bool {
        ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"].contains(method)
    }
}

public enum HTTP1ParseResult<Head: Sendable>: Sendable {
    case complete(Head)
    /// More bytes are needed (and the limits are not exceeded yet).
    case incomplete
    case invalid(HTTP1Violation)
}

/// Parses request heads strictly (RFC 9112): everything a request-smuggling attack relies on is
/// refused rather than guessed at.
public struct HTTP1RequestParser: Sendable {
    public var limits: HTTP1Limits

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    public func parse(_ buf: UnsafeRawBufferPointer) -> HTTP1ParseResult<HTTP1RequestHead> {
        // A server should ignore empty lines before a request line (RFC 9112 §2.2); a few, not forever.
        var start = 0
        var skipped = 0
        while start + 1 < buf.count, buf[start] == ByteClass.cr, buf[start + 1] == ByteClass.lf, skipped < 4 {
            start += 2
            skipped += 1
        }
        if start < buf.count, buf[start] == ByteClass.lf {
            return .invalid(HTTP1Violation(.bareLF, "an empty line with a bare LF before the request"))
        }
        guard let lf = FieldSection.lineEnd(buf, from: start) else {
            if buf.count - start > limits.maxRequestLineLength {
                return .invalid(HTTP1Violation(.requestLineTooLong, "the request line is longer than \(limits.maxRequestLineLength) bytes"))
            }
            return .incomplete
        }
        if lf - start > limits.maxRequestLineLength {
            return .invalid(HTTP1Violation(.requestLineTooLong, "the request line is longer than \(limits.maxRequestLineLength) bytes"))
        }
        guard lf > start, buf[lf - 1] == ByteClass.cr else {
            return .invalid(HTTP1Violation(.bareLF, "the request line ends with a bare LF (CRLF is required)"))
        }
        let line = start..<(lf - 1)
        let requestLine: (method: String, target: String, minor: Int)
        switch parseRequestLine(buf, line) {
        case .failure(let v): return .invalid(v)
        case .success(let r): requestLine = r
        }
        switch FieldSection.parse(buf, from: lf + 1, limits: limits) {
        case .incomplete: return .incomplete
        case .invalid(let v): return .invalid(v)
        case .complete(let section):
            return interpret(requestLine, section)
        }
    }

    private func parseRequestLine(_ buf: UnsafeRawBufferPointer, _ line: Range<Int>) -> Result<(method: String, target: String, minor: Int), HTTP1Violation> {
        var i = line.lowerBound
        while i < line.upperBound, ByteClass.isToken(buf[i]) { i += 1 }
        guard i > line.lowerBound, i < line.upperBound, buf[i] == ByteClass.sp else {
            return .failure(Self.malformedLine(buf, line))
        }
        let method = line.lowerBound..<i
        i += 1
        let targetStart = i
        while i < line.upperBound, ByteClass.isTarget(buf[i]) { i += 1 }
        guard i > targetStart, i < line.upperBound, buf[i] == ByteClass.sp else {
            return .failure(Self.malformedLine(buf, line))
        }
        let target = targetStart..<i
        i += 1
        let version = i..<line.upperBound
        // HTTP-name is case-sensitive (RFC 9112 §2.3).
        guard version.count == 8, buf.equalsExactly(version.lowerBound..<(version.lowerBound + 5), "HTTP/") else {
            return .failure(HTTP1Violation(.malformedRequestLine, "the request line does not end in HTTP/1.1 or HTTP/1.0"))
        }
        let major = buf[version.lowerBound + 5], dot = buf[version.lowerBound + 6], minor = buf[version.lowerBound + 7]
        guard dot == UInt8(ascii: "."), (0x30...0x39).contains(major), (0x30...0x39).contains(minor) else {
            return .failure(HTTP1Violation(.malformedRequestLine, "the request line does not end in HTTP/1.1 or HTTP/1.0"))
        }
        guard major == UInt8(ascii: "1"), minor <= UInt8(ascii: "1") else {
            return .failure(HTTP1Violation(.unsupportedVersion, "HTTP/\(Character(UnicodeScalar(major))).\(Character(UnicodeScalar(minor))) is not supported; use HTTP/1.1"))
        }
        let methodText = buf.string(method), targetText = buf.string(target)
        guard Self.hasValidForm(targetText, method: methodText) else {
            return .failure(HTTP1Violation(.malformedRequestLine, "the request target `\(targetText.prefix(80))` is none of origin-form (/path), absolute-form (http://host/path), authority-form (CONNECT host:port) or *"))
        }
        return .success((methodText, targetText, Int(minor - 0x30)))
    }

    /// RFC 9112 §3.2: origin-form, absolute-form, authority-form (CONNECT only) or `*` (OPTIONS only).
    static func hasValidForm(_ target: String, method: String) -> Bool {
        if method == "CONNECT" {
            return target.contains(":") && isValidHost(target)
        }
        if target == "*" { return method == "OPTIONS" }
        if target.hasPrefix("/") { return true }
        // absolute-form: scheme ":" hier-part, scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        let bytes = Array(target.utf8)
        guard let colon = bytes.firstIndex(of: ByteClass.colon), colon > 0 else { return false }
        let isAlpha: (UInt8) -> Bool = { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
        guard isAlpha(bytes[0]) else { return false }
        for b in bytes[1..<colon] where !(isAlpha(b) || (b >= 0x30 && b <= 0x39) || b == 0x2B || b == 0x2D || b == 0x2E) {
            return false
        }
        let scheme = String(decoding: bytes[..<colon], as: UTF8.self).asciiLowercased
        if scheme == "http" || scheme == "https" {
            // An authority is required, without userinfo.
            guard let authority = absoluteFormAuthority(target), !authority.isEmpty else { return false }
            return isValidHost(authority)
        }
        return true
    }

    static func malformedLine(_ buf: UnsafeRawBufferPointer, _ line: Range<Int>) -> HTTP1Violation {
        for i in line {
            let b = buf[i]
            if b == ByteClass.cr { return HTTP1Violation(.bareCR, "a bare CR inside the request line") }
            if b == 0 || (b < 0x20 && b != ByteClass.htab) || b == 0x7F {
                return HTTP1Violation(.invalidCharacter, "the request line contains the control character 0x\(String(b, radix: 16))")
            }
        }
        return HTTP1Violation(.malformedRequestLine, "the request line is not `METHOD target HTTP/1.1`")
    }

    private func interpret(_ line: (method: String, target: String, minor: Int), _ section: FieldSection) -> HTTP1ParseResult<HTTP1RequestHead> {
        var firstHost: String?
        var hostFields = 0
        var contentLengths: [String] = []
        var transferCodings: [String] = []
        var sawTransferEncoding = false
        var connection: [String] = []
        var upgradeValue: String?
        var expect: [String] = []
        for (field, kind) in zip(section.fields, section.kinds) {
            switch kind {
            case .host:
                hostFields += 1
                if firstHost == nil { firstHost = field.value }
            case .contentLength: contentLengths.append(field.value)
            case .transferEncoding:
                sawTransferEncoding = true
                transferCodings += listTokens(field.value)
            case .connection: forEachListToken(field.value) { connection.append($0) }
            case .upgrade: upgradeValue = field.value
            case .expect: expect += listTokens(field.value)
            default: break
            }
        }

        // Host: exactly one in HTTP/1.1, at most one in HTTP/1.0 (RFC 9112 §3.2).
        if hostFields > 1 { return .invalid(HTTP1Violation(.multipleHost, "the request has more than one Host field")) }
        if hostFields == 0, line.minor == 1 { return .invalid(HTTP1Violation(.missingHost, "an HTTP/1.1 request needs a Host field")) }
        var host = firstHost ?? ""
        if !host.isEmpty, !Self.isValidHost(host) {
            return .invalid(HTTP1Violation(.invalidHost, "the Host field `\(host.prefix(100))` is not a valid host[:port]"))
        }
        if let authority = Self.absoluteFormAuthority(line.target) { host = authority }

        // Body framing (RFC 9112 §6.1–6.3), refusing every ambiguous shape.
        var framing = BodyFraming.none
        if sawTransferEncoding {
            if line.minor == 0 {
                return .invalid(HTTP1Violation(.transferEncodingInHTTP10, "Transfer-Encoding in an HTTP/1.0 request is not accepted"))
            }
            if !contentLengths.isEmpty {
                return .invalid(HTTP1Violation(.contentLengthWithTransferEncoding, "a request with both Content-Length and Transfer-Encoding is refused"))
            }
            guard let last = transferCodings.last else {
                return .invalid(HTTP1Violation(.unknownTransferCoding, "an empty Transfer-Encoding field"))
            }
            for coding in transferCodings where !["chunked", "gzip", "x-gzip", "deflate", "compress", "x-compress"].contains(coding) {
                return .invalid(HTTP1Violation(.unknownTransferCoding, "the transfer coding `\(coding.prefix(40))` is not implemented"))
            }
            guard last == "chunked", transferCodings.filter({ $0 == "chunked" }).count == 1 else {
                return .invalid(HTTP1Violation(.chunkedNotFinal, "chunked must be the final transfer coding, applied once"))
            }
            guard transferCodings.count == 1 else {
                return .invalid(HTTP1Violation(.unknownTransferCoding, "transfer codings other than chunked are not implemented"))
            }
            framing = .chunked
        } else if !contentLengths.isEmpty {
            if contentLengths.count > 1 {
                return .invalid(HTTP1Violation(.multipleContentLength, "more than one Content-Length field"))
            }
            guard let length = Self.contentLength(contentLengths[0]) else {
                return .invalid(HTTP1Violation(.invalidContentLength, "Content-Length `\(contentLengths[0].prefix(40))` is not a plain decimal number"))
            }
            framing = length == 0 ? .none : .length(length)
        }

        var keepAlive = line.minor == 1
        var options: [String] = []
        var wantsUpgrade = false
        for token in connection {
            switch token {
            case "close": keepAlive = false
            case "keep-alive": if line.minor == 0 { keepAlive = true }
            case "upgrade": wantsUpgrade = true
            default: options.append(token)
            }
        }
        if connection.contains("close") { keepAlive = false }

        var expectsContinue = false
        for e in expect {
            guard e == "100-continue" else {
                return .invalid(HTTP1Violation(.unsupportedExpectation, "the expectation `\(e.prefix(40))` is not supported"))
            }
            expectsContinue = line.minor == 1
        }

        return .complete(HTTP1RequestHead(
            method: line.method, target: line.target, minorVersion: line.minor,
            fields: section.fields, fieldLines: section.lines, fieldKinds: section.kinds, headLength: section.end,
            framing: framing, host: host, keepAlive: keepAlive,
            upgrade: wantsUpgrade ? upgradeValue : nil, expectsContinue: expectsContinue,
            connectionOptions: options))
    }

    /// `1*DIGIT`, nothing else: no sign, no hex, no list, no whitespace inside; at most 2^53.
    static func contentLength(_ value: String) -> UInt64? {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= 16 else { return nil }
        var n: UInt64 = 0
        for b in bytes {
            guard b >= 0x30, b <= 0x39 else { return nil }
            n = n * 10 + UInt64(b - 0x30)
        }
        return n <= 1 << 53 ? n : nil
    }

    /// host = reg-name / IPv4 / "[" IPv6 "]", with an optional port of digits.
    static func isValidHost(_ host: String) -> Bool {
        var host = host
        return host.withUTF8 { bytes in
            guard !bytes.isEmpty, bytes.count <= 255 + 6 else { return false }
            var hostPart = bytes[...]
            if bytes.first == UInt8(ascii: "[") {
                guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return false }
                let inside = bytes[1..<close]
                guard !inside.isEmpty, inside.allSatisfy({ ByteClass.hexValue($0) >= 0 || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else { return false }
                let rest = bytes[(close + 1)...]
                if rest.isEmpty { return true }
                guard rest.first == UInt8(ascii: ":") else { return false }
                return rest.dropFirst().allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && rest.count <= 6
            }
            if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
                let port = bytes[(colon + 1)...]
                guard port.count <= 5, port.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
                hostPart = bytes[..<colon]
            }
            return !hostPart.isEmpty && hostPart.allSatisfy { ByteClass.isRegName($0) }
        }
    }

    /// The authority of an absolute-form target (`http://host:port/path`), which wins over Host.
    static func absoluteFormAuthority(_ target: String) -> String? {
        let lower = String(target.prefix(8)).asciiLowercased
        let scheme: Int
        if lower.hasPrefix("http://") { scheme = 7 } else if lower.hasPrefix("https://") { scheme = 8 } else { return nil }
        let rest = target.dropFirst(scheme)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = String(rest[..<end])
        // userinfo is not accepted in a request target (hasValidForm refuses it)
        return authority.contains("@") ? nil : authority
    }
}
