import DevMeshCore
import DevMeshProxy
import DevMeshTLS
import NIOCore
import NIOSSL

/// The TLS side of one running stack: the workload identity of each service, the mTLS contexts
/// of its sidecars (asked per connection, so renewed certificates are picked up), and the HTTPS
/// context of the gateway.
struct MeshSecurity: Sendable {
    /// The gateway's workload (PRODUCT.md "Policies: workloads").
    static let gatewayIdentity = SPIFFEID(namespace: "istio-system", serviceAccount: "devmesh-gateway")

    let mode: MTLSMode
    let store: CertificateStore
    let identities: [String: SPIFFEID]
    let edge: NIOSSLContext?

    /// `externals`: each ambassador is the workload `external-<name>` of the root namespace (PRODUCT.md).
    static func make(services: [ServiceConfig], externals: [ExternalConfig] = [], gateway: MeshPlan.Gateway?, mode: MTLSMode,
                     store: CertificateStore) async throws -> MeshSecurity {
        var identities = Dictionary(services.map { ($0.name, SPIFFEID(namespace: $0.namespace, serviceAccount: $0.name)) },
                                    uniquingKeysWith: { a, _ in a })
        for external in externals {
            identities[external.workload] = SPIFFEID(namespace: "istio-system", serviceAccount: external.workload)
        }
        var edge: NIOSSLContext?
        if let gateway {
            edge = try await TLSConfigurations.edgeServer(store: store, defaultHosts: gateway.config.hosts)
        }
        // Issue every workload certificate now (off the event loops) so the first requests find
        // them cached.
        if mode != .off {
            for id in identities.values {
                _ = try await store.meshServerContext(for: id)
                _ = try await store.meshClientContext(for: id)
            }
            if gateway != nil { _ = try await store.meshClientContext(for: gatewayIdentity) }
        }
        return MeshSecurity(mode: mode, store: store, identities: identities, edge: edge)
    }

    /// TLS of an inbound sidecar of `service`, or nil when mTLS is off.
    func inbound(_ service: String) -> ListenerTLS? {
        guard mode != .off, let id = identities[service] else { return nil }
        let store = self.store
        return .mesh({ store.meshServerContext(for: id, on: $0) }, requireTLS: mode == .strict)
    }

    /// mTLS from `caller` (a service, or the gateway when nil) to the sidecars of `callee`.
    func upstream(from caller: String?, to callee: String) -> UpstreamTLS? {
        guard mode != .off, let expected = identities[callee] else { return nil }
        guard let me = caller.map({ identities[$0] }) ?? Self.gatewayIdentity else { return nil }
        let store = self.store
        return UpstreamTLS(context: { store.meshClientContext(for: me, on: $0) }, expected: expected)
    }
}
