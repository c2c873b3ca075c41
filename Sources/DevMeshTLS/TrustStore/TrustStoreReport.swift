/// What `install` or `uninstall` did to one trust store.
public struct TrustStoreOutcome: Sendable, Codable, Equatable {
    /// How one store ended up.
    public enum Result: String, Sendable, Codable {
        /// The CA was added.
        case installed
        /// The CA was already there; nothing changed.
        case alreadyInstalled = "already-installed"
        /// The CA was taken out.
        case removed
        /// The CA was not there; nothing changed.
        case notInstalled = "not-installed"
        /// There is no such store for this user (no NSS database): nothing to do.
        case notFound = "not-found"
        /// devmesh does not change this store itself: `message` holds the exact commands.
        case manual
        /// A tool the store needs is missing (`certutil`): `message` says how to install it.
        case needsTool = "needs-tool"
        /// This user may not change the store: `message` holds the `sudo` and manual commands.
        case needsPrivileges = "needs-privileges"
        /// The store's tool failed; the store was left as it was before.
        case failed
    }

    /// `system` or `nss`.
    public var store: String
    /// The file or database the outcome is about.
    public var location: String
    public var result: Result
    /// One or more lines for a person: what happened, or what to run.
    public var message: String

    public init(store: String, location: String, result: Result, message: String) {
        self.store = store
        self.location = location
        self.result = result
        self.message = message
    }

    /// Whether the store is now as asked (trusts the CA after install, not after uninstall), or
    /// there was nothing to do. `devmesh ca install|uninstall` exits 1 unless every outcome is.
    public var isComplete: Bool {
        switch result {
        case .installed, .alreadyInstalled, .removed, .notInstalled, .notFound: true
        case .manual, .needsTool, .needsPrivileges, .failed: false
        }
    }
}

/// Whether one trust store holds the devmesh CA (`devmesh ca show`).
public struct TrustStoreStatus: Sendable, Codable, Equatable {
    /// `system` or `nss`.
    public var store: String
    /// The file or database looked at.
    public var location: String
    /// nil when devmesh cannot tell (macOS keychain, missing `certutil`).
    public var trusted: Bool?
    /// How it was decided, or why it cannot be.
    public var detail: String

    public init(store: String, location: String, trusted: Bool?, detail: String) {
        self.store = store
        self.location = location
        self.trusted = trusted
        self.detail = detail
    }

    private enum CodingKeys: String, CodingKey { case store, location, trusted, detail }

    // `trusted` is written as null when unknown, not left out: scripts read one shape.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(store, forKey: .store)
        try container.encode(location, forKey: .location)
        try container.encode(trusted, forKey: .trusted)
        try container.encode(detail, forKey: .detail)
    }
}
