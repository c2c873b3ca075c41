import DevMeshCore
import Foundation
import Testing

@testable import DevMeshStore

/// A hop is stored as columns, not as its span: reading it back must give the span the model
/// defines (`HopRecord.span()`), attribute for attribute, for each kind of listener.
@Suite struct HopRoundTripTests {
    static func hop(listener: String, status: Int, error: String?, trace: String) -> HopRecord {
        HopRecord(
            listener: listener, service: "orders", instance: listener == "inbound" ? "orders.1" : nil, upstreamName: "users",
            traceID: trace, spanID: "b7ad6b7169203331", parentSpanID: "00f067aa0ba902b7",
            method: "GET", target: "/users/42?x=\"q\"", host: "127.0.0.1:7001", userAgent: "curl/8\u{1}", minorVersion: 1,
            status: status, error: error, startNanos: 1_700_000_000_123_456_789, durationNanos: 1_234_567,
            endpointName: "users.2", endpointHost: "127.0.0.1", endpointPort: 40001, attempts: 3, bytesIn: 10, bytesOut: 20,
            sourcePrincipal: listener == "inbound" ? "cluster.local/ns/default/sa/frontend" : nil)
    }

    @Test(arguments: [("egress", 503, "upstream-refused"), ("inbound", 200, nil), ("service", 404, nil)] as [(String, Int, String?)])
    func storedHopReadsBackAsItsSpan(_ listener: String, _ status: Int, _ error: String?) async throws {
        try await TempStore.with { store in
            let db = try TelemetryDatabase.open(path: store.path)
            let writer = try Fixtures.writer(db)
            let hop = Self.hop(listener: listener, status: status, error: error, trace: Fixtures.id(status, length: 32, salt: "70"))
            writer.record(hop: hop)
            await writer.finish()
            let stored = try #require(try db.trace(hop.traceID)?.spans.first)
            let expected = hop.span()
            #expect(stored.traceID == expected.traceID)
            #expect(stored.spanID == expected.spanID)
            #expect(stored.parentSpanID == expected.parentSpanID)
            #expect(stored.service == expected.service)
            #expect(stored.instance == expected.instance)
            #expect(stored.kind == expected.kind)
            #expect(stored.name == expected.name)
            #expect(stored.startNanos == expected.startNanos)
            #expect(stored.durationNanos == expected.durationNanos)
            #expect(stored.status == expected.status)
            // Same names, same values (numbers come back typed; compare their text).
            #expect(stored.attributes.mapValues(\.text) == expected.attributes)
        }
    }
}
