/// Puts the devmesh CA into the trust stores of this machine and takes it out again: the system
/// store (Debian/Ubuntu by devmesh itself; Fedora/RHEL and macOS as the exact commands to run)
/// and the NSS databases of Chrome and Firefox on Linux. Each store gets an outcome of its own:
/// a store that fails is left as it was, and does not stop the others.
public struct TrustStore: Sendable {
    public let context: TrustStoreContext

    public init(context: TrustStoreContext) {
        self.context = context
    }

    /// Adds the CA to every store found: the system store first, then each NSS database.
    public func install(_ anchor: TrustAnchor) -> [TrustStoreOutcome] {
        [changeSystemStore(anchor, install: true)] + NSSTrustStore(context: context).install(anchor)
    }

    /// Removes the CA from every store found.
    public func uninstall(_ anchor: TrustAnchor) -> [TrustStoreOutcome] {
        [changeSystemStore(anchor, install: false)] + NSSTrustStore(context: context).uninstall(anchor)
    }

    /// Whether each store holds the CA.
    public func status(_ anchor: TrustAnchor) -> [TrustStoreStatus] {
        let system =
            switch context.platform {
            case let .debian(tool): DebianTrustStore(tool: tool, context: context).status(anchor)
            case .fedora, .macOS, .unknown: ManualTrustStore(platform: context.platform, context: context).status(anchor)
            }
        return [system] + NSSTrustStore(context: context).status(anchor)
    }

    private func changeSystemStore(_ anchor: TrustAnchor, install: Bool) -> TrustStoreOutcome {
        switch context.platform {
        case let .debian(tool):
            let store = DebianTrustStore(tool: tool, context: context)
            return install ? store.install(anchor) : store.uninstall(anchor)
        case .fedora, .macOS, .unknown:
            return ManualTrustStore(platform: context.platform, context: context).outcome(anchor, install: install)
        }
    }
}
