/// The `Cache-Control` directives a shared cache acts on (RFC 9111 §5.2), from every
/// `Cache-Control` field of a message. Unknown directives are ignored, as the RFC says; a
/// directive with a malformed number counts as present with no value (for `max-age` that makes
/// the response stale at once — the safe reading).
public struct CacheDirectives: Sendable, Equatable {
    public var noStore = false
    /// `no-cache` (with or without field names: both read as "revalidate every time").
    public var noCache = false
    /// `private` (with or without field names): never stored by a shared cache.
    public var isPrivate = false
    public var isPublic = false
    public var mustRevalidate = false
    public var proxyRevalidate = false
    public var onlyIfCached = false
    public var noTransform = false
    public var maxAge: Int?
    public var sMaxAge: Int?
    /// `max-age` or `s-maxage` was there but not a number.
    public var malformedAge = false

    public init() {}

    public init(_ values: [String]) {
        for value in values {
            for raw in Self.split(value) {
                let part = raw.trimmingASCIISpaces()
                guard !part.isEmpty else { continue }
                let name: Substring, argument: Substring?
                if let eq = part.firstIndex(of: "=") {
                    name = part[..<eq].trimmingASCIISpaces()
                    argument = part[part.index(after: eq)...].trimmingASCIISpaces()
                } else {
                    name = part
                    argument = nil
                }
                switch name.lowercased() {
                case "no-store": noStore = true
                case "no-cache": noCache = true
                case "private": isPrivate = true
                case "public": isPublic = true
                case "must-revalidate": mustRevalidate = true
                case "proxy-revalidate": proxyRevalidate = true
                case "only-if-cached": onlyIfCached = true
                case "no-transform": noTransform = true
                case "max-age":
                    if let n = argument.flatMap(Self.seconds) { maxAge = n } else { malformedAge = true; maxAge = 0 }
                case "s-maxage":
                    if let n = argument.flatMap(Self.seconds) { sMaxAge = n } else { malformedAge = true; sMaxAge = 0 }
                default: break
                }
            }
        }
    }

    /// Delta-seconds, quoted or not (senders quote despite the RFC); huge values clamp to 2^31.
    static func seconds(_ text: Substring) -> Int? {
        var t = text
        if t.count >= 2, t.first == "\"", t.last == "\"" { t = t.dropFirst().dropLast() }
        guard !t.isEmpty, t.utf8.count <= 20, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return min(Int(t) ?? Int(Int32.max), Int(Int32.max))
    }

    /// Splits on commas outside quoted strings (`private="Set-Cookie, X-A"` is one directive).
    static func split(_ value: String) -> [Substring] {
        var parts: [Substring] = []
        var start = value.startIndex
        var quoted = false
        var i = value.startIndex
        while i < value.endIndex {
            let c = value[i]
            if c == "\"" { quoted.toggle() } else if c == ",", !quoted {
                parts.append(value[start..<i])
                start = value.index(after: i)
            }
            i = value.index(after: i)
        }
        parts.append(value[start...])
        return parts
    }
}

extension Substring {
    func trimmingASCIISpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
