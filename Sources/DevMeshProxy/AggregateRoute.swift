import DevMeshCore
import Foundation

/// A gateway route that answers by asking several services at once and merging their JSON
/// answers under the calls' names (`aggregate:` in devmesh.yaml).
public struct AggregateRoute: Sendable {
    public struct Call: Sendable {
        public var name: String
        public var service: String
        public var path: String
        public var timeout: Duration
    }

    public var calls: [Call]
    /// The route's path, for the `{captures}` the calls' paths use.
    public var pattern: PathPattern

    public init(route: RouteConfig) {
        calls = (route.aggregate ?? []).map { Call(name: $0.name, service: $0.to, path: $0.path, timeout: $0.timeout) }
        pattern = PathPattern(route.path ?? "/")
    }

    /// One call's outcome.
    enum Outcome: Sendable {
        case answered(status: Int, body: [UInt8])
        case failed(status: Int, why: String)
    }

    /// The merged answer: each call's JSON under its name; a call that failed (no answer, an
    /// error status, not JSON) is `null` there and explained under `_devmesh.partial`. All failed: 502.
    static func merge(_ outcomes: [(name: String, outcome: Outcome)]) -> (status: Int, body: [UInt8], partial: [String]) {
        var merged: [String: Any] = [:]
        var problems: [String: Any] = [:]
        for (name, outcome) in outcomes {
            var json: Any?
            var text: String?
            if case .answered(_, let body) = outcome {
                json = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
                if json == nil { text = String(decoding: body.prefix(400), as: UTF8.self) }
            }
            switch outcome {
            case .answered(let status, _) where (200..<300).contains(status):
                if let json {
                    merged[name] = json
                } else {
                    merged[name] = NSNull()
                    problems[name] = ["status": status, "error": "the answer is not JSON", "body": String((text ?? "").prefix(200))] as [String: Any]
                }
            case .answered(let status, _):
                merged[name] = NSNull()
                var problem: [String: Any] = ["status": status, "error": "answered \(status)"]
                if let json { problem["body"] = json } else if let text, !text.isEmpty { problem["body"] = String(text.prefix(200)) }
                problems[name] = problem
            case .failed(let status, let why):
                merged[name] = NSNull()
                problems[name] = ["status": status, "error": why] as [String: Any]
            }
        }
        if !problems.isEmpty {
            merged["_devmesh"] = ["partial": true, "failed": problems] as [String: Any]
        }
        let status = problems.count == outcomes.count && !outcomes.isEmpty ? 502 : 200
        let data = (try? JSONSerialization.data(withJSONObject: merged, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return (status, Array(data), problems.keys.sorted())
    }
}
