import DevMeshCore
import DevMeshOTLP
import DevMeshStore
import DevMeshSupervisor
import DevMeshTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The store end to end: a real OpenTelemetry SDK joins the sidecars' trace, OTLP ingest refuses
/// what it must, export reaches a collector, `kill -9` loses nothing acknowledged, and the CLI
/// reads it all live and after the stack stopped.
@Suite(.serialized, .timeLimit(.minutes(3))) struct TelemetryStoreTests {
    /// The clone's test venv (`./install.sh --test-tools`): Python with opentelemetry-sdk.
    static let venvPython: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".venv-test/bin/python3").path
    }()

    /// An app instrumented with the OpenTelemetry SDK the usual way: the endpoint, protocol,
    /// service name and instance id all come from the environment devmesh gives it. Spans and
    /// logs are exported synchronously when they end, before the answer goes out, so when the
    /// test has the answer the SDK has had its 200 (= committed).
    static let otelApp = """
        import logging, os
        from http.server import BaseHTTPRequestHandler, HTTPServer
        from opentelemetry import trace, propagate
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
        from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        tracer = trace.get_tracer("shop.app")
        logs = LoggerProvider()
        logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
        log = logging.getLogger("app")
        log.addHandler(LoggingHandler(logger_provider=logs))
        log.setLevel(logging.INFO)
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                if self.path == "/healthz":
                    body = b"ok"
                else:
                    ctx = propagate.extract(dict(self.headers))
                    with tracer.start_as_current_span("handle " + self.path, context=ctx, kind=trace.SpanKind.SERVER) as span:
                        span.set_attribute("app.items", 3)
                        log.warning("handled %s", self.path)
                    body = b"done"
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    /// An app that logs each request with the `traceparent` it got (as many real apps do).
    static let loggingApp = """
        import os
        from http.server import BaseHTTPRequestHandler, HTTPServer
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/healthz":
                    print("GET %s traceparent=%s" % (self.path, self.headers.get("traceparent", "-")), flush=True)
                body = ("%s %s" % (os.environ.get("DEVMESH_SERVICE"), self.path)).encode()
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        print("listening on", os.environ["PORT"], flush=True)
        HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
        """

    static func curl(_ args: [String]) async throws -> (status: Int, body: String) {
        let r = try await GatewayTests.tool("/usr/bin/curl", ["-sS", "--max-time", "20", "-w", "\n%{http_code}"] + args)
        var lines = r.out.components(separatedBy: "\n")
        let status = Int(lines.removeLast()) ?? 0
        return (status, lines.joined(separator: "\n"))
    }

    static func randomHex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 1...255)) }.joined()
    }

    @Test func anOpenTelemetrySDKAppsSpansAndLogsJoinTheSidecarTrace() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.venvPython) else {
            Issue.record("no test venv at \(Self.venvPython): run `./install.sh --test-tools` (the README's test command) first")
            return
        }
        let stack = try TempStack([
            "app.py": Self.otelApp,
            "Procfile": "app: \(Self.venvPython) -u app.py\n",
            "devmesh.yaml": "services:\n  app: {health: {http: /healthz}}\n",
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 1 service is ready"))
        let state = try #require(stack.state)
        let port = try #require(state.ports.services["app"])
        let traceID = Self.randomHex(16)
        let callerSpan = Self.randomHex(8)
        let answer = try await Self.curl(["-H", "traceparent: 00-\(traceID)-\(callerSpan)-01", "http://127.0.0.1:\(port)/work"])
        #expect(answer.status == 200)

        // The app's span was committed before it answered; the sidecars' follow within milliseconds.
        let database = try TelemetryDatabase.openReadOnly(path: stack.root + "/.devmesh/devmesh.db")
        defer { try? database.close() }
        var detail = try database.trace(traceID)
        let deadline = ContinuousClock.now + .seconds(10)
        while (detail?.spans.count ?? 0) < 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            detail = try database.trace(traceID)
        }
        let spans = try #require(detail).spans
        let service = try #require(spans.first { $0.attributes["devmesh.listener"] == "service" })
        let inbound = try #require(spans.first { $0.attributes["devmesh.listener"] == "inbound" })
        let app = try #require(spans.first { $0.scope == "shop.app" })
        #expect(service.parentSpanID == callerSpan)
        #expect(inbound.parentSpanID == service.spanID)
        #expect(app.traceID == traceID)
        #expect(app.parentSpanID == inbound.spanID, "the SDK's span is a child of the inbound sidecar's")
        #expect(app.name == "handle /work")
        #expect(app.kind == .server)
        #expect(app.service == "app")
        #expect(app.instance == "app.1")
        #expect(app.attributes["app.items"] == .int(3))
        #expect(app.resource["telemetry.sdk.language"] == "python")

        // The app's OTLP log record carries the span it was written in.
        let log = try #require(detail?.logs.first { $0.stream == "otlp" })
        #expect(log.body == "handled /work")
        #expect(log.severity == "WARN")
        #expect(log.spanID == app.spanID)
        #expect(log.service == "app")

        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }

    @Test func otlpIngestTakesJSONAndRefusesBadPayloadsStoringNothing() async throws {
        let stack = try TempStack([
            "app.py": httpAppPy,
            "Procfile": "app: python3 -u app.py\n",
            "devmesh.yaml": "services:\n  app: {health: {tcp: true}}\n",
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 1 service is ready"))
        let otlp = try #require(stack.state?.ports.otlp)
        let base = "http://127.0.0.1:\(otlp)"
        let database = try TelemetryDatabase.openReadOnly(path: stack.root + "/.devmesh/devmesh.db")
        defer { try? database.close() }
        let scratch = stack.root + "/payloads"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)

        // JSON, the OTLP way: hex ids, 64-bit integers as strings.
        let traceID = Self.randomHex(16)
        let json = """
            {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json-app"}}]},
             "scopeSpans":[{"scope":{"name":"manual"},"spans":[{"traceId":"\(traceID)","spanId":"\(Self.randomHex(8))",
             "name":"GET /json","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000005000000",
             "attributes":[{"key":"http.response.status_code","value":{"intValue":"201"}}],"status":{"code":2,"message":"boom"}}]}]}]}
            """
        try json.write(toFile: scratch + "/ok.json", atomically: true, encoding: .utf8)
        let ok = try await Self.curl(["-H", "Content-Type: application/json", "--data-binary", "@\(scratch)/ok.json", base + "/v1/traces"])
        #expect(ok.status == 200)
        #expect(ok.body == "{}")
        // Acknowledged means committed: visible at once to another connection.
        let stored = try #require(try database.trace(traceID))
        #expect(stored.spans.first?.attributes["http.response.status_code"] == .int(201))
        #expect(stored.spans.first?.statusMessage == "boom")
        #expect(try database.traces(TraceFilter(service: "json-app")).first?.statusCode == 201)

        let before = try database.spanCount()
        // Malformed JSON, a base64 id, protobuf garbage: 400, nothing stored.
        try "{\"resourceSpans\": [".write(toFile: scratch + "/bad.json", atomically: true, encoding: .utf8)
        let bad = try await Self.curl(["-H", "Content-Type: application/json", "--data-binary", "@\(scratch)/bad.json", base + "/v1/traces"])
        #expect(bad.status == 400)
        #expect(bad.body.contains("not valid JSON"))
        let base64ID = json.replacingOccurrences(of: traceID, with: "AAECAwQFBgcICQoLDA0ODw==")
        try base64ID.write(toFile: scratch + "/b64.json", atomically: true, encoding: .utf8)
        let b64 = try await Self.curl(["-H", "Content-Type: application/json", "--data-binary", "@\(scratch)/b64.json", base + "/v1/traces"])
        #expect(b64.status == 400)
        #expect(b64.body.contains("hex"))
        try Data((0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37) }).write(to: URL(fileURLWithPath: scratch + "/garbage.bin"))
        let garbage = try await Self.curl(["-H", "Content-Type: application/x-protobuf", "--data-binary", "@\(scratch)/garbage.bin", base + "/v1/traces"])
        #expect(garbage.status == 400)

        // A gzip bomb: 64 MiB of zeros in ~64 KiB; refused past the decompression limit.
        let bomb = GzipInflater.deflate([UInt8](repeating: 0, count: 64 << 20))
        #expect(bomb.count < 1 << 20)
        try Data(bomb).write(to: URL(fileURLWithPath: scratch + "/bomb.gz"))
        let bombed = try await Self.curl(["-H", "Content-Type: application/x-protobuf", "-H", "Content-Encoding: gzip",
                                    "--data-binary", "@\(scratch)/bomb.gz", base + "/v1/traces"])
        #expect(bombed.status == 400)
        #expect(bombed.body.contains("inflates to more than"))

        // gzip that is fine.
        let gzipped = GzipInflater.deflate(Array(json.replacingOccurrences(of: traceID, with: Self.randomHex(16)).utf8))
        try Data(gzipped).write(to: URL(fileURLWithPath: scratch + "/ok.json.gz"))
        let unzipped = try await Self.curl(["-H", "Content-Type: application/json", "-H", "Content-Encoding: gzip",
                                      "--data-binary", "@\(scratch)/ok.json.gz", base + "/v1/traces"])
        #expect(unzipped.status == 200)

        // Too large (declared): 413 before reading it; wrong type and path: 415, 404.
        try Data(count: 9 << 20).write(to: URL(fileURLWithPath: scratch + "/huge.bin"))
        let huge = try await Self.curl(["-H", "Content-Type: application/x-protobuf", "--data-binary", "@\(scratch)/huge.bin", base + "/v1/traces"])
        #expect(huge.status == 413)
        let text = try await Self.curl(["-H", "Content-Type: text/plain", "--data-binary", "hello", base + "/v1/traces"])
        #expect(text.status == 415)
        let path = try await Self.curl(["-H", "Content-Type: application/json", "--data-binary", "{}", base + "/v1/metrics"])
        #expect(path.status == 404)

        #expect(try database.spanCount() == before + 1, "only the good gzip request added a span")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }

    /// A collector that answers the first request 503 (devmesh must retry) and keeps every body.
    static let collector = """
        import os, sys
        from http.server import BaseHTTPRequestHandler, HTTPServer
        seen = {"n": 0}
        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                seen["n"] += 1
                if seen["n"] == 1:
                    self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers(); return
                name = "traces" if self.path == "/v1/traces" else "logs"
                with open(os.path.join("received", "%s-%d.bin" % (name, seen["n"])), "wb") as f: f.write(body)
                self.send_response(200); self.send_header("Content-Type", "application/x-protobuf"); self.send_header("Content-Length", "0"); self.end_headers()
            def log_message(self, *a): pass
        os.makedirs("received", exist_ok=True)
        HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
        """

    @Test func exportForwardsSpansAndLogsToACollectorWithRetry() async throws {
        let collectorPort = try PortAllocator.freePort()
        let stack = try TempStack([
            "app.py": httpAppPy,
            "collector.py": Self.collector,
            "Procfile": "app: python3 -u app.py\ncollector: python3 -u collector.py \(collectorPort)\n",
            "devmesh.yaml": """
                services:
                  app: {health: {tcp: true}}
                  collector: {protocol: none}
                telemetry:
                  otlp_export: http://127.0.0.1:\(collectorPort)

                """,
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 2 services are ready"))
        let port = try #require(stack.state?.ports.services["app"])
        let traceID = Self.randomHex(16)
        let answer = try await Self.curl(["-H", "traceparent: 00-\(traceID)-\(Self.randomHex(8))-01", "http://127.0.0.1:\(port)/exported"])
        #expect(answer.status == 200)

        // Batches leave within a second or so; the first is refused once and sent again.
        var exported: [TelemetrySpan] = []
        var logs: [TelemetryLog] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            exported = []
            logs = []
            let files = (try? FileManager.default.contentsOfDirectory(atPath: stack.root + "/received")) ?? []
            for file in files {
                let bytes = [UInt8](FileManager.default.contents(atPath: stack.root + "/received/" + file) ?? Data())
                if file.hasPrefix("traces") { exported += (try? OTLPProtobuf.spans(from: bytes)) ?? [] }
                if file.hasPrefix("logs") { logs += (try? OTLPProtobuf.logs(from: bytes)) ?? [] }
            }
            if exported.contains(where: { $0.traceID == traceID }), !logs.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let span = try #require(exported.first { $0.traceID == traceID })
        #expect(span.service == "app")
        #expect(span.attributes["url.path"] == "/exported")
        #expect(logs.contains { $0.body.contains("listening") || $0.service == "devmesh" })
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }

    @Test func killMinus9UnderLoadLosesNothingAcknowledgedAndLeavesASoundFile() async throws {
        let stack = try TempStack([
            "app.py": httpAppPy,
            "Procfile": "app: python3 -u app.py\n",
            "devmesh.yaml": "services:\n  app: {health: {tcp: true}}\n",
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 1 service is ready"))
        let state = try #require(stack.state)
        let otlp = try #require(state.ports.otlp)
        let appPort = try #require(state.ports.services["app"])
        let children = state.children

        // Sidecar traffic in the background, OTLP batches in the foreground; every 200 is noted.
        let traffic = Task.detached {
            for _ in 0..<2000 {
                if Task.isCancelled { return }
                _ = try? await Self.curl(["--max-time", "2", "http://127.0.0.1:\(appPort)/load"])
            }
        }
        let scratch = stack.root + "/batches"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var acknowledged: [(trace: String, spans: [String])] = []
        for batch in 0..<400 {
            let traceID = Self.randomHex(16)
            let spanIDs = (0..<20).map { _ in Self.randomHex(8) }
            let spans = spanIDs.map { id in
                "{\"traceId\":\"\(traceID)\",\"spanId\":\"\(id)\",\"name\":\"batch \(batch)\",\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":\"1700000000001000000\"}"
            }
            let body = "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"loader\"}}]},\"scopeSpans\":[{\"spans\":[\(spans.joined(separator: ","))]}]}]}"
            try body.write(toFile: scratch + "/b.json", atomically: true, encoding: .utf8)
            if batch == 150 { kill(up.pid, SIGKILL) }
            let r = try await Self.curl(["--max-time", "5", "-H", "Content-Type: application/json", "--data-binary", "@\(scratch)/b.json",
                                   "http://127.0.0.1:\(otlp)/v1/traces"])
            if r.status == 200 {
                acknowledged.append((traceID, spanIDs))
            } else if batch > 150 {
                break
            }
        }
        traffic.cancel()
        _ = await up.exitCode()
        // devmesh died without stopping its children: they are the test's to stop.
        for child in children { kill(-child.pid, SIGKILL) }

        #expect(acknowledged.count >= 100)
        let database = try TelemetryDatabase.openReadOnly(path: stack.root + "/.devmesh/devmesh.db")
        defer { try? database.close() }
        #expect(try database.integrityCheck() == "ok")
        var missing = 0
        for batch in acknowledged {
            let stored = try database.spanIDs(inTrace: batch.trace)
            missing += batch.spans.filter { !stored.contains($0) }.count
        }
        #expect(missing == 0, "every span of every acknowledged OTLP request survives kill -9")
        #expect(try database.spanCount() > acknowledged.count * 20, "the sidecars' spans were stored too")
    }

    @Test func tracesTraceAndLogsWorkLiveAndAfterDown() async throws {
        let stack = try TempStack([
            "front.py": MeshTraceTests.front,
            "back.py": Self.loggingApp,
            "Procfile": "front: python3 -u front.py\nback: python3 -u back.py\n",
            "devmesh.yaml": """
                services:
                  back: {health: {http: /healthz}}
                  front:
                    needs: [back]
                    upstreams: [back]
                    health: {http: /healthz}

                """,
        ])
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 2 services are ready"))
        let front = try #require(stack.state?.ports.services["front"])
        let traceID = Self.randomHex(16)
        let answer = try await Self.curl(["-H", "traceparent: 00-\(traceID)-\(Self.randomHex(8))-01", "http://127.0.0.1:\(front)/page"])
        #expect(answer.status == 200)
        _ = try await Self.curl(["http://127.0.0.1:\(front)/missing-upstream-is-fine"])

        func check(live: Bool) async throws {
            // Live, the spans arrive milliseconds after the answer: ask until all four are there.
            var traces: [TraceSummary] = []
            let deadline = ContinuousClock.now + .seconds(10)
            repeat {
                let run = try await DevMeshBinary.runDetached(["traces", "--json", "--service", "back"], in: stack.root)
                #expect(run.code == 0, "\(run.stderr)")
                traces = try JSONDecoder().decode([TraceSummary].self, from: Data(run.stdout.utf8))
                if traces.contains(where: { $0.traceID == traceID && $0.spanCount == 4 }) { break }
                try await Task.sleep(for: .milliseconds(50))
            } while ContinuousClock.now < deadline
            let summary = try #require(traces.first { $0.traceID == traceID })
            #expect(summary.spanCount == 4)
            #expect(summary.rootService == "front")
            #expect(summary.path == "/page")
            #expect(summary.services == ["back", "front"])

            let detail = try await DevMeshBinary.runDetached(["trace", String(traceID.prefix(12)), "--json"], in: stack.root)
            #expect(detail.code == 0)
            let decoded = try JSONDecoder().decode(TraceDetail.self, from: Data(detail.stdout.utf8))
            #expect(decoded.spans.count == 4)
            #expect(decoded.logs.contains { $0.service == "back" && $0.body.contains(traceID) }, "back's log line names the trace")

            let waterfall = try await DevMeshBinary.runDetached(["trace", traceID], in: stack.root)
            #expect(waterfall.stdout.contains("trace \(traceID) — 4 spans"))
            #expect(waterfall.stdout.contains("└─ "))
            #expect(waterfall.stdout.contains("back GET /data"))

            let logs = try await DevMeshBinary.runDetached(["logs", "back", "--json", "--grep", "GET /data"], in: stack.root)
            #expect(logs.code == 0, "\(logs.stderr)")
            let lines = try JSONDecoder().decode([TelemetryLog].self, from: Data(logs.stdout.utf8))
            #expect(!lines.isEmpty)
            #expect(lines.allSatisfy { $0.service == "back" && $0.body.contains("GET /data") })
            #expect(lines.contains { $0.traceID == traceID })

            let byTrace = try await DevMeshBinary.runDetached(["logs", "--trace", traceID], in: stack.root)
            #expect(byTrace.stdout.contains("back.1"))

            let bad = try await DevMeshBinary.runDetached(["traces", "--status", "teapot"], in: stack.root)
            #expect(bad.code != 0)
            #expect(bad.stderr.contains("--status must be `error` or an HTTP status code, not `teapot`"), "\(bad.stderr)")
            let range = try await DevMeshBinary.runDetached(["traces", "--min-duration", "2s", "--max-duration", "1s"], in: stack.root)
            #expect(range.code != 0)
            #expect(range.stderr.contains("--min-duration is longer than --max-duration"), "\(range.stderr)")
            let byAttribute = try await DevMeshBinary.runDetached(["traces", "--attr", "http.request.method=GET", "--since", "1h", "--until", "2261-01-01T00:00:00Z", "--json"],
                                                    in: stack.root)
            #expect(byAttribute.code == 0, "\(byAttribute.stderr)")
            #expect(try JSONDecoder().decode([TraceSummary].self, from: Data(byAttribute.stdout.utf8)).contains { $0.traceID == traceID })
            let unknown = try await DevMeshBinary.runDetached(["trace", "ffffffffffffffffffffffffffffffff"], in: stack.root)
            #expect(unknown.code == 1)
            #expect(unknown.stderr.contains("no trace"))
            _ = live
        }
        try await check(live: true)
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
        try await check(live: false)
        let follow = try await DevMeshBinary.runDetached(["logs", "-f", "--limit", "1"], in: stack.root)
        #expect(follow.stderr.contains("not running"))
    }
}
