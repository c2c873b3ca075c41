import NIOConcurrencyHelpers

/// The current keys of every JWKS source (an inline document, a file or a URL), shared by the
/// authenticators of all workloads. Whoever fetches (the app) puts; verification reads. A failed
/// refresh keeps the keys that worked before.
public final class JWKSStore: Sendable {
    public enum Entry: Sendable {
        case keys(JWKSKeys)
        case unavailable(String)
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    public init() {}

    public func keys(for source: String) -> Entry? {
        entries.withLockedValue { $0[source] }
    }

    /// Stores fresh keys; a failure replaces only a failure (or nothing).
    public func update(_ source: String, with entry: Entry) {
        entries.withLockedValue { all in
            if case .unavailable = entry, case .keys? = all[source] { return }
            all[source] = entry
        }
    }

    public var sources: [String] { entries.withLockedValue { Array($0.keys) } }
}
