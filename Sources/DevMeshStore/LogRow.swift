import DevMeshCore
import Foundation
import GRDB

/// One row of `logs` (its body also goes to the trigram index `logs_fts`, by trigger).
enum LogRow {
    static let insertSQL = """
        INSERT INTO logs (run_id, time_ns, service, instance, stream, severity, body, trace_id, span_id, attributes)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static func insert(_ log: TelemetryLog, run: Int64?, with b: SQLiteBinder, db: Database, encoder: JSONEncoder) throws {
        b.bind(1, run)
        b.bind(2, log.timeNanos)
        b.bind(3, log.service)
        b.bind(4, log.instance)
        b.bind(5, log.stream)
        b.bind(6, log.severity)
        b.bind(7, log.body)
        b.bind(8, log.traceID)
        b.bind(9, log.spanID)
        b.bind(10, log.attributes.isEmpty ? nil : TypedAttribute.encode(log.attributes, encoder))
        try b.step(db)
    }

    static let selectColumns = "id, time_ns, service, instance, stream, severity, body, trace_id, span_id, attributes"

    static func decode(_ row: Row, decoder: JSONDecoder) -> TelemetryLog {
        let attributes = TypedAttribute.decode(row["attributes"], decoder)
        let time: Int64 = row["time_ns"]
        return TelemetryLog(id: row["id"], timeNanos: UInt64(bitPattern: time), service: row["service"], instance: row["instance"],
                            stream: row["stream"], severity: row["severity"], body: row["body"], traceID: row["trace_id"],
                            spanID: row["span_id"], attributes: attributes)
    }
}
