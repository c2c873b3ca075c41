import DevMeshCore
import DevMeshHTTP1
import DevMeshPolicy

/// The inbound sidecar's authorization step, as Istio's: the request path normalised in the
/// stack's mode (refused with 400 when it cannot be), then the workload's policies evaluated with
/// the caller's mTLS principal. The upstream gets the path the policies saw.
public struct InboundAuthorization: Sendable {
    public let engine: PolicyEngine
    public let workload: PolicyWorkload
    /// `destination.port`: the service's `port:`.
    public let port: Int?
    public let normalization: PolicyNormalization
    /// Whether any policy for the workload reads request headers (else they are not collected).
    let readsHeaders: Bool
    /// No policy applies: only the path is normalised.
    let hasPolicies: Bool

    public init(engine: PolicyEngine, workload: PolicyWorkload, port: Int?, normalization: PolicyNormalization) {
        self.engine = engine
        self.workload = workload
        self.port = port
        self.normalization = normalization
        let policies = engine.policies(for: workload)
        hasPolicies = !policies.isEmpty
        readsHeaders = policies.contains { $0.rules.contains { $0.when.contains { ConditionKey.header($0.key) != nil } } }
    }

    public enum Outcome: Sendable {
        /// Go on, with this target (normalised path, query untouched).
        case allow(target: String)
        case deny(PolicyDecision)
        case badRequest(String)
    }

    public func check(_ head: HTTP1RequestHead, target: String, principal: String?, sourceIP: String?) -> Outcome {
        let normalised: String
        switch PathNormalization.normalize(target, mode: normalization) {
        case .success(let path): normalised = path
        case .failure(let rejection): return .badRequest("the request path cannot be normalised: \(rejection)")
        }
        guard hasPolicies else { return .allow(target: normalised) }
        var headers: [String: String] = [:]
        if readsHeaders {
            for field in head.fields {
                let name = field.name.lowercased()
                headers[name] = headers[name].map { $0 + "," + field.value } ?? field.value
            }
        }
        let path = String(normalised.prefix { $0 != "?" })
        let request = PolicyRequest(sourcePrincipal: principal, sourceIP: sourceIP, host: head.host, port: port,
                                    method: head.method, path: path, headers: headers)
        let decision = engine.evaluate(request, at: workload)
        return decision.verdict == .allow ? .allow(target: normalised) : .deny(decision)
    }
}
