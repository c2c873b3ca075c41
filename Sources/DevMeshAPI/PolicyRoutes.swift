import DevMeshCore
import Foundation
import Hummingbird
import NIOCore

/// `/api/v1/policies…`: the policies in force with what they select and lint says, the recent
/// decisions from the spans, and the what-if evaluator (`devmesh policy explain` over HTTP).
enum PolicyRoutes {
    static let decisionValues: Set<String> = ["allow", "deny", "unauthenticated", "dry-run"]
    /// A what-if body is a small JSON object; anything larger is refused unread.
    static let maxWhatIfBytes = 64 * 1024

    static func add(to router: Router<BasicRequestContext>, policies: (any PolicyInspecting)?, telemetry: (any TelemetryQuerying)?) {
        router.get("/api/v1/policies") { _, _ -> Response in
            guard let policies else { return noPolicies() }
            return try AdminAPI.json(policies.overview())
        }

        router.get("/api/v1/policies/decisions") { request, _ -> Response in
            try await TelemetryRoutes.answer {
                let query = TelemetryRoutes.pairs(request)
                try TelemetryRoutes.requireOnly(["decision", "workload", "policy", "limit"], in: query)
                var filter = PolicyDecisionFilter()
                for (key, value) in query {
                    switch key {
                    case "decision":
                        guard decisionValues.contains(value) else {
                            throw TelemetryQueryParameters.Invalid("`decision` is one of \(decisionValues.sorted().joined(separator: ", ")), not `\(value.prefix(40))`")
                        }
                        filter.decision = value
                    case "workload": filter.workload = value
                    case "policy": filter.policy = value
                    default:
                        guard let n = Int(value), (1...1000).contains(n) else {
                            throw TelemetryQueryParameters.Invalid("`limit` is a number from 1 to 1000, not `\(value.prefix(40))`")
                        }
                        filter.limit = n
                    }
                }
                return try AdminAPI.json(try await telemetry?.policyDecisions(filter) ?? [])
            }
        }

        router.post("/api/v1/policies/explain") { request, _ -> Response in
            guard let policies else { return noPolicies() }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maxWhatIfBytes)
            } catch {
                return APIError.response(.contentTooLarge, "a what-if request is a JSON object of at most \(maxWhatIfBytes / 1024) KiB")
            }
            let whatIf: WhatIfRequest
            do {
                whatIf = try JSONDecoder().decode(WhatIfRequest.self, from: Data(buffer: body))
            } catch {
                return APIError.response(.badRequest,
                    "the body must be JSON such as {\"to\": \"users\", \"from\": \"orders\", \"method\": \"GET\", \"path\": \"/users/1\"} (\(Self.describe(error)))")
            }
            return try AdminAPI.json(try await policies.explain(whatIf))
        }
    }

    static func noPolicies() -> Response {
        APIError.response(.notFound, "this stack enforces no policies; add `policies: [policies/]` to devmesh.yaml (see docs/policies.md)")
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "`\(key.stringValue)` is required"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "`\(context.codingPath.map(\.stringValue).joined(separator: "."))` has the wrong type"
        case DecodingError.dataCorrupted(let context): return context.debugDescription
        default: return "\(error)"
        }
    }
}
