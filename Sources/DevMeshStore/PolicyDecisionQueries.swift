import DevMeshCore
import Foundation
import GRDB

extension TelemetryDatabase {
    /// The newest spans searched for decisions: the Policies page shows recent ones, and a
    /// bounded scan keeps it fast at a million spans.
    static let decisionScan: Int64 = 50_000

    /// Recent authorization decisions, newest first, from the sidecars' and the gateway's spans.
    public func policyDecisions(_ filter: PolicyDecisionFilter) throws -> [PolicyDecisionRecord] {
        var conditions = ["id > (SELECT coalesce(max(id), 0) FROM spans) - ?", "listener IS NOT NULL", "attributes IS NOT NULL",
                          "json_extract(attributes, '$.\"devmesh.policy.decision\".s') IS NOT NULL"]
        var arguments: StatementArguments = [Self.decisionScan]
        switch filter.decision {
        case "dry-run"?:
            conditions.append("json_extract(attributes, '$.\"devmesh.policy.dry_run\".s') IS NOT NULL")
        case let decision?:
            conditions.append("json_extract(attributes, '$.\"devmesh.policy.decision\".s') = ?")
            arguments += [decision]
        case nil: break
        }
        if let workload = filter.workload {
            conditions.append("service = ?")
            arguments += [workload]
        }
        if let policy = filter.policy {
            conditions.append("(json_extract(attributes, '$.\"devmesh.policy.name\".s') = ? OR json_extract(attributes, '$.\"devmesh.policy.dry_run\".s') LIKE ? ESCAPE '\\')")
            arguments += [policy, "%" + Self.likeEscaped(policy) + "%"]
        }
        arguments += [max(1, min(filter.limit, 1000))]
        let sql = """
            SELECT start_ns, trace_id, span_id, service, listener, http_method, http_target, http_status, source_principal, attributes
            FROM spans WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?
            """
        let decoder = JSONDecoder()
        return try pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let attributes = TypedAttribute.decode(row["attributes"], decoder)
                func text(_ key: String) -> String? { attributes[key].map(\.text) }
                return PolicyDecisionRecord(
                    timeNanos: UInt64(max(0, row["start_ns"] as Int64)), traceID: row["trace_id"], spanID: row["span_id"],
                    workload: row["service"], listener: row["listener"], method: row["http_method"], target: row["http_target"],
                    status: (row["http_status"] as Int64?).map(Int.init), decision: text("devmesh.policy.decision") ?? "",
                    policy: text("devmesh.policy.name"), rule: text("devmesh.policy.rule").flatMap { Int($0) },
                    reason: text("devmesh.policy.reason"), dryRun: text("devmesh.policy.dry_run"), audit: text("devmesh.policy.audit"),
                    sourcePrincipal: row["source_principal"], requestPrincipal: text("enduser.id"))
            }
        }
    }
}
