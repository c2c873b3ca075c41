import DevMeshAuth
import DevMeshCore
import DevMeshPolicy
import DevMeshProxy
import Foundation
import NIOConcurrencyHelpers

/// The policies a running stack enforces: one gate per workload (every inbound sidecar and the
/// gateway), the issuers' keys, and live reload — when a policy file changes, a new set is built
/// and swapped into every gate at once; a file with errors keeps the old set and says why.
final class MeshPolicies: Sendable {
    let config: StackConfig
    let keys = JWKSStore()
    let refresher: JWKSRefresher

    struct Registration {
        let gate: PolicyGate
        let workload: String
        let port: Int?
    }

    /// What the last load or reload did, for the API and the Policies page.
    struct Status: Sendable {
        var loadedAt: Date
        var fingerprint: String
        var error: String?
        var errorAt: Date?
        var reloads: Int
        var keyWarnings: [String]
    }

    private struct State {
        var workspace: PolicyWorkspace
        var registrations: [Registration] = []
        /// Gateway routes with `auth: {jwt: ns/name}`, by the name they give.
        var tokenGates: [(reference: String, gate: RouteTokenGate)] = []
        var status: Status
    }

    private let state: NIOLockedValueBox<State>

    init(config: StackConfig, workspace: PolicyWorkspace) {
        self.config = config
        refresher = JWKSRefresher(fetcher: JWKSFetcher(root: config.root), store: keys)
        state = NIOLockedValueBox(State(workspace: workspace, status: Status(
            loadedAt: Date(), fingerprint: Self.fingerprint(config, workspace), reloads: 0, keyWarnings: [])))
    }

    /// What a reload watches: the policy files, and the JWKS files their RequestAuthentications
    /// name (a rotated key file takes effect like an edited policy).
    static func fingerprint(_ config: StackConfig, _ workspace: PolicyWorkspace) -> String {
        let keyFiles = workspace.authentications.flatMap(\.jwtRules).compactMap(\.jwksUri)
            .filter { !JWKSFetcher.isRemote($0) }
            .map { $0.hasPrefix("file://") ? String($0.dropFirst("file://".count)) : $0 }
        return PolicyFiles.fingerprint(config.policies + Array(Set(keyFiles)).sorted(), root: config.root)
    }

    var workspace: PolicyWorkspace { state.withLockedValue { $0.workspace } }
    var status: Status { state.withLockedValue { $0.status } }

    /// The gate a listener of `workload` enforces (nil for a workload the policies do not know).
    func gate(workload: String, port: Int?) -> PolicyGate? {
        state.withLockedValue { state in
            guard let authorization = Self.authorization(state.workspace, workload: workload, port: port, keys: keys,
                                                         refresher: refresher) else { return nil }
            let gate = PolicyGate(authorization)
            state.registrations.append(Registration(gate: gate, workload: workload, port: port))
            return gate
        }
    }

    /// The RequestAuthentication a gateway route names (`auth: {jwt: ns/name}`), following reloads.
    func tokenGate(reference: String) -> RouteTokenGate {
        state.withLockedValue { state in
            let gate = RouteTokenGate(Self.authenticator(state.workspace, reference: reference, keys: keys, refresher: refresher))
            state.tokenGates.append((reference, gate))
            return gate
        }
    }

    static func authenticator(_ workspace: PolicyWorkspace, reference: String, keys: JWKSStore,
                              refresher: JWKSRefresher) -> RequestAuthenticator? {
        guard let found = workspace.authentications.first(where: { $0.id == reference }), !found.jwtRules.isEmpty else { return nil }
        return RequestAuthenticator(rules: found.jwtRules, store: keys, refresh: { await refresher.refresh($0) })
    }

    static func authorization(_ workspace: PolicyWorkspace, workload name: String, port: Int?, keys: JWKSStore,
                              refresher: JWKSRefresher) -> InboundAuthorization? {
        guard let workload = workspace.workloads[name] else { return nil }
        let rules = workspace.authentications(for: workload).flatMap(\.jwtRules)
        return InboundAuthorization(engine: workspace.engine, workload: workload, port: port ?? workspace.ports[name],
                                    normalization: workspace.normalization,
                                    authenticator: rules.isEmpty ? nil : RequestAuthenticator(
                                        rules: rules, store: keys, refresh: { await refresher.refresh($0) }))
    }

    enum ReloadOutcome: Equatable {
        case unchanged
        case reloaded(policies: Int, before: Int)
        case kept(error: String)
    }

    /// Rebuilds the policy set when a file changed (by size and modification time). Errors keep
    /// the set in force.
    func reloadIfChanged(fetcher: JWKSFetcher) async -> ReloadOutcome {
        let (previous, current) = state.withLockedValue { ($0.status, $0.workspace) }
        guard Self.fingerprint(config, current) != previous.fingerprint else { return .unchanged }
        let files = PolicyFiles.load(config.policies, root: config.root)
        if let first = files.diagnostics.first(where: { $0.severity == .error }) {
            let at = first.location.map { "\($0.file):\($0.line):\($0.column): " } ?? ""
            let message = at + first.message
            let fingerprint = Self.fingerprint(config, current)
            state.withLockedValue {
                $0.status.fingerprint = fingerprint
                $0.status.error = message
                $0.status.errorAt = Date()
            }
            return .kept(error: message)
        }
        let workspace = PolicyWorkspace(config: config, documents: files.documents)
        let fingerprint = Self.fingerprint(config, workspace)
        let warnings = await fetcher.load(workspace.authentications, into: keys)
        return state.withLockedValue { state in
            let before = state.workspace.engine.policies.count
            state.workspace = workspace
            for registration in state.registrations {
                if let authorization = Self.authorization(workspace, workload: registration.workload, port: registration.port, keys: keys,
                                                          refresher: refresher) {
                    registration.gate.update(authorization)
                }
            }
            for (reference, gate) in state.tokenGates {
                gate.update(Self.authenticator(workspace, reference: reference, keys: keys, refresher: refresher))
            }
            state.status = Status(loadedAt: Date(), fingerprint: fingerprint, error: nil, errorAt: nil,
                                  reloads: state.status.reloads + 1, keyWarnings: warnings)
            return .reloaded(policies: workspace.engine.policies.count, before: before)
        }
    }

    func setKeyWarnings(_ warnings: [String]) {
        state.withLockedValue { $0.status.keyWarnings = warnings }
    }
}
