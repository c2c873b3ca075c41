#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a header section line by line with RFC 9112's strict rules. Shared by requests and
/// responses; the caller has already consumed the start line.
struct FieldSection {
    var fields: [HTTPField] = []
    /// Byte range of each field line, CRLF included, parallel to `fields` (for splicing).
    var lines: [Range<Int>] = []
    /// What each field is, parallel to `fields`.
    var kinds: [KnownField] = []
    /// Index just after the empty line that ends the section.
    var end = 0

    enum Outcome {
        case complete(FieldSection)
        case incomplete
        case invalid(HTTP1Violation)
    }

    /// Finds the next LF at or after `from`; requires the CR before it.
    static func lineEnd(_ buf: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < buf.count, let base = buf.baseAddress else { return nil }
        guard let found = memchr(base + from, Int32(ByteClass.lf), buf.count - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    static func parse(_ buf: UnsafeRawBufferPointer, from start: Int, limits: HTTP1Limits) -> Outcome {
        var section = FieldSection()
        // Room for a typical head at once, instead of growing three arrays 1 → 2 → 4 → 8.
        section.fields.reserveCapacity(12)
        section.lines.reserveCapacity(12)
        section.kinds.reserveCapacity(12)
        var pos = start
        while true {
            guard let lf = lineEnd(buf, from: pos) else {
                if buf.count - start > limits.maxHeaderBytes {
                    return .invalid(HTTP1Violation(.headersTooLarge, "the header section is larger than \(limits.maxHeaderBytes) bytes"))
                }
                return .incomplete
            }
            if lf + 1 - start > limits.maxHeaderBytes {
                return .invalid(HTTP1Violation(.headersTooLarge, "the header section is larger than \(limits.maxHeaderBytes) bytes"))
            }
            guard lf > pos, buf[lf - 1] == ByteClass.cr else {
                return .invalid(HTTP1Violation(.bareLF, "a header line ends with a bare LF (CRLF is required)"))
            }
            let lineEnd = lf - 1  // index of CR
            if lineEnd == pos {  // the empty line
                section.end = lf + 1
                return .complete(section)
            }
            let first = buf[pos]
            if first == ByteClass.sp || first == ByteClass.htab {
                return .invalid(HTTP1Violation(.obsoleteLineFolding, "obsolete line folding (a header line starting with whitespace) is not accepted"))
            }
            if section.fields.count >= limits.maxHeaderCount {
                return .invalid(HTTP1Violation(.tooManyHeaders, "more than \(limits.maxHeaderCount) header fields"))
            }
            switch parseField(buf, pos..<lineEnd) {
            case .failure(let v): return .invalid(v)
            case .success(let (field, kind)):
                section.fields.append(field)
                section.kinds.append(kind)
                section.lines.append(pos..<(lf + 1))
            }
            pos = lf + 1
        }
    }

    /// `name ":" OWS value OWS` — no whitespace before the colon, a token name, clean value octets.
    static func parseField(_ buf: UnsafeRawBufferPointer, _ line: Range<Int>) -> Result<(HTTPField, KnownField), HTTP1Violation> {
        var i = line.lowerBound
        while i < line.upperBound, ByteClass.isToken(buf[i]) { i += 1 }
        guard i < line.upperBound, i > line.lowerBound else {
            return .failure(HTTP1Violation(.malformedHeader, "a header line has no valid field name"))
        }
        let c = buf[i]
        if c != ByteClass.colon {
            if c == ByteClass.sp || c == ByteClass.htab {
                return .failure(HTTP1Violation(.whitespaceBeforeColon, "whitespace between a field name and its colon is not accepted"))
            }
            if c == ByteClass.cr {
                return .failure(HTTP1Violation(.bareCR, "a bare CR inside a header line"))
            }
            return .failure(HTTP1Violation(.malformedHeader, "a field name contains an invalid character"))
        }
        let name = line.lowerBound..<i
        var v = i + 1
        var e = line.upperBound
        while v < e, buf[v] == ByteClass.sp || buf[v] == ByteClass.htab { v += 1 }
        while e > v, buf[e - 1] == ByteClass.sp || buf[e - 1] == ByteClass.htab { e -= 1 }
        for j in v..<e where !ByteClass.isFieldValue(buf[j]) {
            let b = buf[j]
            if b == ByteClass.cr { return .failure(HTTP1Violation(.bareCR, "a bare CR inside a header value")) }
            return .failure(HTTP1Violation(.invalidCharacter, "a header value contains the control character 0x\(String(b, radix: 16))"))
        }
        return .success((HTTPField(name: buf.string(name), value: buf.string(v..<e)), KnownField.classify(buf, name)))
    }
}
