import DevMeshSupervisor
import Foundation
import ServiceLifecycle

/// Watches the policy files (once a second: they are few and small) and refreshes remote JWKS
/// (every 20 minutes, Istio's default). Reload results are announced; the old set stays in force
/// when the new one has errors.
struct PolicyWatcher: Service {
    let policies: MeshPolicies
    let fetcher: JWKSFetcher
    let output: LogOutput

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                var lastRefresh = ContinuousClock.now
                while true {
                    try await Task.sleep(for: .seconds(1))
                    await reload()
                    if ContinuousClock.now - lastRefresh >= JWKSFetcher.refreshInterval {
                        lastRefresh = .now
                        let warnings = await fetcher.load(policies.workspace.authentications, into: policies.keys, onlyRemote: true)
                        for warning in warnings { output.announce("policies   \(warning)", severity: .warning) }
                    }
                }
            }
        } catch is CancellationError {
            // Shutting down.
        }
    }

    func reload() async {
        switch await policies.reloadIfChanged(fetcher: fetcher) {
        case .unchanged:
            break
        case .reloaded(let count, let before):
            output.announce("policies   reloaded: \(count) authorization polic\(count == 1 ? "y" : "ies") in force (was \(before))")
            for warning in policies.status.keyWarnings { output.announce("policies   \(warning)", severity: .warning) }
        case .kept(let error):
            output.announce("policies   not reloaded, the previous policies stay in force: \(error)", severity: .error)
        }
    }
}
