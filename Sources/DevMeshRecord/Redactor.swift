import Crypto
import Foundation

/// Replaces secrets in a recorded exchange before it is stored: credential headers, secret JSON
/// body fields and query parameters become `[redacted:<hmac>]`, where the HMAC (SHA-256, keyed
/// per user, first 12 hex digits) lets equal secrets stay comparable across recordings while a
/// short one cannot be guessed back by hashing candidates (the key is not in the recording).
public struct Redactor: Sendable {
    /// Headers whose values are credentials.
    public static let defaultHeaders: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "x-auth-token", "x-csrf-token",
    ]
    /// JSON body fields redacted by default (PRODUCT.md, "Secrets").
    public static let defaultFields: Set<String> = [
        "password", "secret", "token", "access_token", "refresh_token", "client_secret", "api_key",
    ]

    /// Query parameters redacted by default.
    public static let defaultQueryParameters: Set<String> = ["access_token", "api_key", "apikey", "token", "key", "password", "secret"]

    /// Headers whose value is a URL: its secret query parameters are redacted (OAuth redirects).
    public static let urlHeaders: Set<String> = ["location", "referer", "content-location", "origin"]

    let key: SymmetricKey
    public var headers: Set<String>
    /// Normalised names (`Self.normalised`): `accessToken`, `access-token` and `ACCESS_TOKEN` are one.
    public var fields: Set<String>
    public var queryParameters: Set<String>

    /// Lower-cased without `_` and `-`: field and parameter names match whatever their spelling.
    public static func normalised(_ name: some StringProtocol) -> String {
        String(name.lowercased().filter { $0 != "_" && $0 != "-" })
    }

    /// `key`: at least 16 bytes, the user's redaction key.
    public init(key: [UInt8], headers: Set<String> = Redactor.defaultHeaders, fields: Set<String> = Redactor.defaultFields,
                queryParameters: Set<String> = Redactor.defaultQueryParameters) {
        precondition(key.count >= 16, "a redaction key has at least 16 bytes")
        self.key = SymmetricKey(data: key)
        self.headers = Set(headers.map { $0.lowercased() })
        self.fields = Set(fields.map(Self.normalised))
        self.queryParameters = Set(queryParameters.map(Self.normalised))
    }

    /// The marker that stands for `secret`. A marker stays itself: a replay that sent a marker
    /// (no fresh secret was supplied) and got it echoed back compares equal to the recording.
    public func marker(_ secret: String) -> String {
        if Self.isMarker(secret) { return secret }
        let mac = HMAC<SHA256>.authenticationCode(for: Data(secret.utf8), using: key)
        return "[redacted:" + mac.prefix(6).map { String(format: "%02x", $0) }.joined() + "]"
    }

    public static func isMarker(_ value: String) -> Bool {
        value.hasPrefix("[redacted:") && value.hasSuffix("]") && value.count == "[redacted:]".count + 12
    }

    /// Header fields with credential values replaced. `Authorization: Bearer x` keeps its scheme
    /// (`Bearer [redacted:…]`): the scheme is no secret and says what a replay must supply.
    public func redact(headers fields: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var secrets: [String] = []
        return redact(headers: fields, secrets: &secrets)
    }

    /// The same, telling which secret values it replaced.
    public func redact(headers fields: [(name: String, value: String)], secrets: inout [String]) -> [(name: String, value: String)] {
        fields.map { field in
            let lower = field.name.lowercased()
            if Self.urlHeaders.contains(lower), let q = field.value.firstIndex(of: "?") {
                let query = String(field.value[field.value.index(after: q)...])
                return (field.name, String(field.value[...q]) + redact(query: query, secrets: &secrets))
            }
            guard headers.contains(lower) else { return field }
            if lower == "authorization" || lower == "proxy-authorization", let space = field.value.firstIndex(of: " ") {
                let scheme = field.value[..<space]
                let secret = String(field.value[field.value.index(after: space)...])
                secrets.append(secret)
                return (field.name, scheme + " " + marker(secret))
            }
            secrets.append(field.value)
            // A cookie's value is a secret on its own too (an app may echo it) — but only the
            // cookie's value: `Path=/api`, `Max-Age=86400` or `consent=true` are not, and would
            // otherwise be replaced wherever they appear. Short values are left for the same reason.
            if lower == "cookie" || lower == "set-cookie" {
                let pairs = field.value.split(separator: ";")
                for part in lower == "set-cookie" ? Array(pairs.prefix(1)) : pairs {
                    if let eq = part.firstIndex(of: "=") {
                        let value = String(part[part.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
                        if value.count >= 8 { secrets.append(value) }
                    }
                }
            }
            return (field.name, marker(field.value))
        }
    }

    /// A query string (without `?`) with secret parameters' values replaced; other bytes kept.
    public func redact(query: String) -> String {
        var secrets: [String] = []
        return redact(query: query, secrets: &secrets)
    }

    public func redact(query: String, secrets: inout [String]) -> String {
        redact(pairs: query, formMode: false, secrets: &secrets)
    }

    /// An `application/x-www-form-urlencoded` body: the same pairs as a query, checked against
    /// the body fields as well (`refresh_token`, `client_secret` of an OAuth token request).
    public func redact(form: String, secrets: inout [String]) -> String {
        redact(pairs: form, formMode: true, secrets: &secrets)
    }

    func redact(pairs query: String, formMode: Bool, secrets: inout [String]) -> String {
        query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
            let name = pair[..<eq]
            let decoded = Self.normalised(String(name).removingPercentEncoding ?? String(name))
            guard queryParameters.contains(decoded) || fields.contains(decoded) && formMode else { return String(pair) }
            let value = String(pair[pair.index(after: eq)...])
            // In a form, `+` is a space.
            let spaced = formMode ? value.replacingOccurrences(of: "+", with: " ") : value
            let plain = spaced.removingPercentEncoding ?? spaced
            secrets.append(plain)
            if plain != value { secrets.append(value) }
            return name + "=" + marker(plain)
        }.joined(separator: "&")
    }

    public struct BodyResult: Sendable, Equatable {
        public var body: [UInt8]
        /// How many fields were replaced.
        public var redacted: Int
    }

    /// A JSON body with secret fields (at any depth) replaced; nil when the body is not JSON
    /// (then it is stored as it is, and only headers and query are redacted).
    public func redact(jsonBody body: [UInt8]) -> BodyResult? {
        var secrets: [String] = []
        return redact(jsonBody: body, secrets: &secrets)
    }

    public func redact(jsonBody body: [UInt8], secrets: inout [String]) -> BodyResult? {
        guard let value = JSONValue.parse(body) else { return nil }
        var count = 0
        let redacted = redact(value, &count, &secrets)
        guard count > 0 else { return BodyResult(body: body, redacted: 0) }
        return BodyResult(body: Array(redacted.text.utf8), redacted: count)
    }

    func redact(_ value: JSONValue, _ count: inout Int, _ secrets: inout [String]) -> JSONValue {
        switch value {
        case .object(let o):
            var out: [String: JSONValue] = [:]
            for (k, v) in o {
                if fields.contains(Self.normalised(k)) {
                    switch v {
                    case .object, .array: out[k] = .string(marker(v.text))
                    case .string(let s):
                        out[k] = .string(marker(s))
                        secrets.append(s)
                    default: out[k] = .string(marker(v.text))
                    }
                    count += 1
                } else {
                    out[k] = redact(v, &count, &secrets)
                }
            }
            return .object(out)
        case .array(let a):
            return .array(a.map { redact($0, &count, &secrets) })
        default:
            return value
        }
    }
}
