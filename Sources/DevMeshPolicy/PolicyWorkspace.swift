import DevMeshCore

/// A stack's policies and the workloads they can select, frozen: what `policy test`, `policy
/// explain`, `policy lint` and (later) the sidecars ask. Workloads follow PRODUCT.md: each
/// service in its namespace with its labels; the gateway `devmesh-gateway` and each external
/// `external-<name>` in the root namespace.
public struct PolicyWorkspace: Sendable {
    public static let gateway = "devmesh-gateway"

    public var engine: PolicyEngine
    public var authentications: [RequestAuthentication]
    public var workloads: [String: PolicyWorkload]
    /// `destination.port` of each workload (a service's `port:`).
    public var ports: [String: Int]
    public var normalization: PolicyNormalization
    public var mtls: MTLSMode
    /// Each service's `health: {http: PATH}` (what lint checks the policies still let through).
    public var healthPaths: [String: String]
    /// Services with `protocol: tcp`: their policies are read as Istio reads them for TCP.
    public var tcpServices: Set<String> = []

    public init(config: StackConfig, documents: [PolicyDocuments], rootNamespace: String = "istio-system") {
        engine = PolicyEngine(policies: documents.flatMap(\.authorizationPolicies), rootNamespace: rootNamespace)
        authentications = documents.flatMap(\.requestAuthentications)
        normalization = config.policyNormalization
        mtls = config.mtls
        var workloads: [String: PolicyWorkload] = [:]
        var ports: [String: Int] = [:]
        var healthPaths: [String: String] = [:]
        for service in config.services {
            if case .http(let path)? = service.health?.probe { healthPaths[service.name] = path }
            workloads[service.name] = PolicyWorkload(name: service.name, namespace: service.namespace, labels: service.labels)
            if let port = service.port { ports[service.name] = port }
            if service.protocol == .tcp { tcpServices.insert(service.name) }
        }
        workloads[Self.gateway] = PolicyWorkload(name: Self.gateway, namespace: rootNamespace,
                                                 labels: ["app": Self.gateway, "istio": "ingressgateway"])
        for external in config.externals {
            // Labelled like an Istio egress gateway, so a selector can pick one ambassador.
            workloads["external-" + external.name] = PolicyWorkload(
                name: "external-" + external.name, namespace: rootNamespace,
                labels: ["app": "external-" + external.name, "istio": "egressgateway", "devmesh.io/external": external.name])
        }
        self.workloads = workloads
        self.ports = ports
        self.healthPaths = healthPaths
    }

    /// A workspace from its parts (tests, and callers without a StackConfig).
    public init(policies: [AuthorizationPolicy], workloads: [PolicyWorkload], ports: [String: Int] = [:], healthPaths: [String: String] = [:],
                normalization: PolicyNormalization = .base, mtls: MTLSMode = .permissive, authentications: [RequestAuthentication] = [],
                rootNamespace: String = "istio-system") {
        engine = PolicyEngine(policies: policies, rootNamespace: rootNamespace)
        self.workloads = Dictionary(workloads.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.ports = ports
        self.healthPaths = healthPaths
        self.normalization = normalization
        self.mtls = mtls
        self.authentications = authentications
    }

    /// The mTLS principal of a workload: `cluster.local/ns/<ns>/sa/<name>`.
    public func principal(of name: String) -> String? {
        workloads[name].map { "cluster.local/ns/\($0.namespace)/sa/\($0.name)" }
    }

    /// RequestAuthentications that apply to a workload (same scoping as AuthorizationPolicies).
    public func authentications(for workload: PolicyWorkload) -> [RequestAuthentication] {
        authentications.filter { auth in
            guard auth.namespace == workload.namespace || auth.namespace == engine.rootNamespace else { return false }
            return (auth.selector ?? [:]).allSatisfy { workload.labels[$0.key] == $0.value }
        }
    }
}
