import Crypto
import DevMeshCore
import Foundation
import HummingbirdBcrypt
import NIOConcurrencyHelpers

/// A route's Basic auth users (`auth: {basic: FILE}`): an htpasswd file of bcrypt hashes
/// (`htpasswd -B`), the one htpasswd format that is still fit for passwords.
///
/// bcrypt costs tens of milliseconds by design, so it never runs on an event loop: `check` answers
/// from a cache of recently verified pairs (keyed by a salted SHA-256, never the password), and
/// asks the caller to run `verify` elsewhere when the pair is new.
public final class BasicCredentials: Sendable {
    /// User → bcrypt hash in the `$2b$` spelling the C code reads.
    let users: [String: String]
    /// Verified (user, password) pairs by their salted digest, with the time they stop counting.
    private let verified = NIOLockedValueBox<[Data: Date]>([:])
    private let salt: Data
    /// A hash of a random password, verified against for unknown users, so a wrong user name costs
    /// the same time as a wrong password and names cannot be found by timing.
    private let decoy: String

    /// bcrypt runs at most this many at once (all routes): past it, 503 — a flood of new
    /// passwords must not queue minutes of work in front of everyone's logins.
    public static let maxConcurrentChecks = 8
    private static let checksInFlight = NIOLockedValueBox(0)

    /// Takes a slot for one bcrypt run; false when all are busy.
    public static func beginCheck() -> Bool {
        checksInFlight.withLockedValue { n in
            guard n < maxConcurrentChecks else { return false }
            n += 1
            return true
        }
    }

    public static func endCheck() {
        checksInFlight.withLockedValue { $0 = max(0, $0 - 1) }
    }

    /// How long a verified pair is taken without bcrypt again (a changed file starts afresh).
    public static let rememberFor: TimeInterval = 300
    static let cacheLimit = 1024

    public var userNames: [String] { users.keys.sorted() }

    init(users: [String: String]) {
        self.users = users
        salt = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        // The decoy has the cost of the users' own hashes (`$2b$10$…` → 10), so both paths take as long.
        let cost = users.values.first.flatMap { UInt8($0.dropFirst(4).prefix(2)) } ?? 10
        decoy = Bcrypt.hash(UUID().uuidString, cost: min(max(cost, 4), 16))
    }

    /// Reads an htpasswd file; every unusable line is a diagnostic saying how to make a good one.
    public static func parse(_ text: String, file: String) -> (BasicCredentials, [Diagnostic]) {
        var users: [String: String] = [:]
        var diagnostics: [Diagnostic] = []
        let remake = "make it with bcrypt: `htpasswd -B \(file) USER` (Debian's apache2-utils)"
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let at = SourceLocation(file: file, line: n + 1, column: 1)
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                diagnostics.append(.error(at: at, "`\(line.prefix(40))…` is not `USER:HASH`", hint: remake))
                continue
            }
            let user = String(line[..<colon])
            let hash = String(line[line.index(after: colon)...])
            guard let bcrypt = Self.bcryptForm(hash) else {
                diagnostics.append(.error(at: at, "the password of `\(user)` is \(Self.describeFormat(hash)), not bcrypt",
                                          hint: remake))
                continue
            }
            if users[user] != nil {
                diagnostics.append(.error(at: at, "the user `\(user)` is listed twice", hint: "keep one line per user"))
                continue
            }
            users[user] = bcrypt
        }
        if users.isEmpty, diagnostics.isEmpty {
            diagnostics.append(.warning(at: SourceLocation(file: file, line: 1, column: 1),
                                        "\(file) holds no user: every request to its routes gets 401", hint: remake))
        }
        return (BasicCredentials(users: users), diagnostics)
    }

    /// `$2y$` (what `htpasswd -B` writes) and `$2a$` are read as `$2b$`: the same algorithm for
    /// passwords without 8-bit characters, which is what the C code checks against.
    static func bcryptForm(_ hash: String) -> String? {
        let u = Array(hash.utf8)
        guard u.count == 60, u[0] == UInt8(ascii: "$"), u[1] == UInt8(ascii: "2"), u[3] == UInt8(ascii: "$"),
              u[6] == UInt8(ascii: "$"), let cost = Int(String(decoding: u[4..<6], as: UTF8.self)), (4...31).contains(cost) else { return nil }
        switch u[2] {
        case UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y"): return "$2b$" + hash.dropFirst(4)
        default: return nil
        }
    }

    static func describeFormat(_ hash: String) -> String {
        if hash.hasPrefix("$apr1$") { return "Apache MD5 (`$apr1$`, htpasswd's default), which a laptop GPU breaks in hours" }
        if hash.hasPrefix("{SHA}") { return "unsalted SHA-1 (`{SHA}`)" }
        if hash.hasPrefix("$1$") { return "MD5-crypt (`$1$`)" }
        if hash.hasPrefix("$5$") || hash.hasPrefix("$6$") { return "SHA-crypt (`\(hash.prefix(3))`)" }
        if hash.hasPrefix("$2") { return "a damaged bcrypt hash (60 characters, `$2b$NN$…`)" }
        return "in plain text or an unknown format"
    }

    // MARK: - Requests

    public enum Check: Sendable, Equatable {
        /// No `Authorization: Basic` field.
        case missing
        /// A `Basic` field that does not decode to `user:password`.
        case malformed(String)
        /// This pair was verified a moment ago.
        case verified(user: String)
        /// New pair: run `verify` off the event loop.
        case verify(user: String, password: String)
    }

    /// Cheap, for the event loop: finds the credentials and answers from the cache.
    public func check(authorization: String?, now: Date = Date()) -> Check {
        guard let field = authorization?.trimmingCharacters(in: .whitespaces), field.count > 6,
              field.prefix(6).lowercased() == "basic " else { return .missing }
        let encoded = field.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard encoded.utf8.count <= 4096, let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) else {
            return .malformed("the Basic credentials are not base64 of `user:password`")
        }
        guard let colon = text.firstIndex(of: ":") else { return .malformed("the Basic credentials have no `:` between user and password") }
        let user = String(text[..<colon]), password = String(text[text.index(after: colon)...])
        let key = digest(user, password)
        let hit = verified.withLockedValue { cache -> Bool in
            guard let until = cache[key] else { return false }
            if until < now { cache[key] = nil; return false }
            return true
        }
        return hit ? .verified(user: user) : .verify(user: user, password: password)
    }

    /// bcrypt against the user's hash (a decoy's for unknown users): call it off the event loop.
    public func verify(user: String, password: String, now: Date = Date()) -> Bool {
        let hash = users[user]
        let matches = Bcrypt.verify(password, hash: hash ?? decoy)
        guard matches, hash != nil else { return false }
        let key = digest(user, password)
        verified.withLockedValue { cache in
            if cache.count >= Self.cacheLimit {
                cache = cache.filter { $0.value >= now }
                if cache.count >= Self.cacheLimit { cache.removeAll() }
            }
            cache[key] = now.addingTimeInterval(Self.rememberFor)
        }
        return true
    }

    private func digest(_ user: String, _ password: String) -> Data {
        var h = SHA256()
        h.update(data: salt)
        h.update(data: Data(user.utf8))
        h.update(data: [0])
        h.update(data: Data(password.utf8))
        return Data(h.finalize())
    }
}
