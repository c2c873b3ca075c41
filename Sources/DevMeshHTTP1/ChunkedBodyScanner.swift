/// Follows a chunked body byte by byte without changing it: validates every chunk-size line,
/// chunk terminator and trailer, and says where the body ends, so a proxy can forward the bytes
/// untouched and still never disagree with its upstream about where the next message starts.
public struct ChunkedBodyScanner: Sendable, Equatable {
    enum State: Sendable, Equatable {
        case sizeStart
        case size(value: UInt64, significantDigits: Int)
        /// chunk-ext = *( ";" ext-name [ "=" ext-val ] ): RFC 9112 §7.1.1 without its optional
        /// whitespace (BWS), which llhttp — the parser of many upstreams — refuses; being at least
        /// as strict as the upstream means the two can never disagree about a body's end.
        case ext(value: UInt64, step: ExtStep)
        case sizeLF(value: UInt64)
        case data(remaining: UInt64)
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerName
        case trailerValue
        case trailerLF
        case finalLF
        case done
    }

    enum ExtStep: Sendable, Equatable {
        case beforeName, name, beforeValue, token, quoted, quotedEscape, afterQuoted
    }

    public let limits: HTTP1Limits
    var state: State = .sizeStart
    var lineLength = 0
    var trailerBytes = 0

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    public var isDone: Bool { state == .done }

    /// Consumes bytes of the body. Returns how many belong to it (all of them unless it ended
    /// inside `bytes`), or throws when the framing is invalid.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer) throws(HTTP1Violation) -> Int {
        try scan(bytes) { _ in }
    }

    /// Like `scan`, and reports where the chunk data lies in `bytes` (to de-chunk, e.g. for HTTP/2).
    public mutating func scan(_ bytes: UnsafeRawBufferPointer, data onData: (Range<Int>) -> Void) throws(HTTP1Violation) -> Int {
        var i = 0
        let n = bytes.count
        while i < n {
            if case .data(let remaining) = state {
                let take = Int(min(remaining, UInt64(n - i)))
                if take > 0 { onData(i..<(i + take)) }
                i += take
                let left = remaining - UInt64(take)
                state = left == 0 ? .dataCR : .data(remaining: left)
                continue
            }
            let b = bytes[i]
            i += 1
            switch state {
            case .sizeStart:
                let h = ByteClass.hexValue(b)
                guard h >= 0 else { throw HTTP1Violation(.invalidChunkSize, "a chunk size is not hexadecimal") }
                lineLength = 1
                state = .size(value: UInt64(h), significantDigits: h == 0 ? 0 : 1)
            case .size(let value, let digits):
                lineLength += 1
                try checkLine()
                let h = ByteClass.hexValue(b)
                if h >= 0 {
                    let significant = digits + ((value == 0 && h == 0) ? 0 : 1)
                    guard significant <= 15 else { throw HTTP1Violation(.chunkSizeOverflow, "a chunk size is too large") }
                    state = .size(value: value << 4 | UInt64(h), significantDigits: significant)
                } else if b == UInt8(ascii: ";") {
                    state = .ext(value: value, step: .beforeName)
                } else if b == ByteClass.cr {
                    state = .sizeLF(value: value)
                } else if b == ByteClass.sp || b == ByteClass.htab {
                    throw HTTP1Violation(.invalidChunkExtension, "whitespace in a chunk size line is not accepted")
                } else {
                    throw HTTP1Violation(.invalidChunkSize, "a chunk size line contains an invalid character")
                }
            case .ext(let value, let step):
                lineLength += 1
                try checkLine()
                if b == ByteClass.lf { throw HTTP1Violation(.bareLF, "a chunk size line ends with a bare LF") }
                if let next = try Self.extension(step, b) {
                    state = .ext(value: value, step: next)
                } else {
                    state = .sizeLF(value: value)
                }
            case .sizeLF(let value):
                guard b == ByteClass.lf else { throw HTTP1Violation(.bareCR, "a bare CR in a chunk size line") }
                state = value == 0 ? .trailerLineStart : .data(remaining: value)
            case .data:
                break  // handled above
            case .dataCR:
                guard b == ByteClass.cr else { throw HTTP1Violation(.invalidChunkTerminator, "chunk data is not followed by CRLF") }
                state = .dataLF
            case .dataLF:
                guard b == ByteClass.lf else { throw HTTP1Violation(.invalidChunkTerminator, "chunk data is not followed by CRLF") }
                state = .sizeStart
            case .trailerLineStart:
                if b == ByteClass.cr {
                    state = .finalLF
                } else if b == ByteClass.sp || b == ByteClass.htab {
                    throw HTTP1Violation(.obsoleteLineFolding, "obsolete line folding in a trailer")
                } else if ByteClass.isToken(b) {
                    state = .trailerName
                    try countTrailer()
                } else {
                    throw HTTP1Violation(.invalidTrailer, "a trailer line does not start with a field name")
                }
            case .trailerName:
                try countTrailer()
                if b == ByteClass.colon {
                    state = .trailerValue
                } else if b == ByteClass.sp || b == ByteClass.htab {
                    throw HTTP1Violation(.whitespaceBeforeColon, "whitespace between a trailer's name and its colon")
                } else if !ByteClass.isToken(b) {
                    throw HTTP1Violation(.invalidTrailer, "a trailer line is not `name: value`")
                }
            case .trailerValue:
                try countTrailer()
                if b == ByteClass.cr {
                    state = .trailerLF
                } else if b == ByteClass.lf {
                    throw HTTP1Violation(.bareLF, "a trailer line ends with a bare LF")
                } else if !ByteClass.isFieldValue(b) {
                    throw HTTP1Violation(.invalidTrailer, "a trailer contains a control character")
                }
            case .trailerLF:
                guard b == ByteClass.lf else { throw HTTP1Violation(.bareCR, "a bare CR in a trailer") }
                state = .trailerLineStart
            case .finalLF:
                guard b == ByteClass.lf else { throw HTTP1Violation(.bareCR, "a bare CR after the last chunk") }
                state = .done
                return i
            case .done:
                return i - 1
            }
        }
        return i
    }

    /// One byte of a chunk extension: the next step, or nil when a CR ends the size line.
    private static func `extension`(_ step: ExtStep, _ b: UInt8) throws(HTTP1Violation) -> ExtStep? {
        let isToken = ByteClass.isToken(b)
        func bad(_ why: String) -> HTTP1Violation { HTTP1Violation(.invalidChunkExtension, "a chunk extension is malformed: \(why)") }
        switch step {
        case .beforeName:
            if isToken { return .name }
            throw bad("`;` must be followed by a name")
        case .name:
            if isToken { return .name }
            if b == UInt8(ascii: "=") { return .beforeValue }
            if b == UInt8(ascii: ";") { return .beforeName }
            if b == ByteClass.cr { return nil }
            throw bad("invalid character in a name")
        case .beforeValue:
            if b == UInt8(ascii: "\"") { return .quoted }
            if isToken { return .token }
            throw bad("`=` must be followed by a token or a quoted string")
        case .token:
            if isToken { return .token }
            if b == UInt8(ascii: ";") { return .beforeName }
            if b == ByteClass.cr { return nil }
            throw bad("invalid character in a value")
        case .quoted:
            if b == UInt8(ascii: "\"") { return .afterQuoted }
            if b == UInt8(ascii: "\\") { return .quotedEscape }
            if b == ByteClass.htab || b == ByteClass.sp || (b >= 0x21 && b != 0x7F) { return .quoted }
            throw bad("an unterminated or invalid quoted string")
        case .quotedEscape:
            if b == ByteClass.htab || b == ByteClass.sp || (b >= 0x21 && b != 0x7F) { return .quoted }
            throw bad("an invalid escape in a quoted string")
        case .afterQuoted:
            if b == UInt8(ascii: ";") { return .beforeName }
            if b == ByteClass.cr { return nil }
            throw bad("a quoted string followed by something other than `;`")
        }
    }

    private func checkLine() throws(HTTP1Violation) {
        if lineLength > limits.maxChunkLineLength {
            throw HTTP1Violation(.invalidChunkExtension, "a chunk size line is longer than \(limits.maxChunkLineLength) bytes")
        }
    }

    private mutating func countTrailer() throws(HTTP1Violation) {
        trailerBytes += 1
        if trailerBytes > limits.maxTrailerBytes {
            throw HTTP1Violation(.invalidTrailer, "the trailer section is larger than \(limits.maxTrailerBytes) bytes")
        }
    }
}
