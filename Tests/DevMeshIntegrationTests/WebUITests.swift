import DevMeshCore
import DevMeshTesting
import Foundation
import Testing

/// The web UI in a real headless Chromium against the sample shop stack, driven by
/// `Tests/Browser/ui_test.py` (selenium): pages, live updates, escaping, the Host check, and the
/// screenshots in docs/screenshots (`DEVMESH_SCREENSHOTS=docs/screenshots` writes them there;
/// otherwise to a temporary folder).
@Suite(.serialized, .timeLimit(.minutes(4))) struct WebUITests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let venvPython = repository.appendingPathComponent(".venv-test/bin/python3").path

    /// Samples/shop as it is, but with its ports left to devmesh (tests run side by side).
    static func shop() throws -> TempStack {
        let sample = repository.appendingPathComponent("Samples/shop").path
        var files: [String: String] = [:]
        let names = FileManager.default.enumerator(atPath: sample)?.compactMap { $0 as? String } ?? []
        for name in names where name == ".env" || (!name.hasPrefix(".") && !name.contains("/.")) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: sample + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            var text = try String(contentsOfFile: sample + "/" + name, encoding: .utf8)
            if name == "devmesh.yaml" {
                text = text.split(separator: "\n", omittingEmptySubsequences: false)
                    .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("port:") }.joined(separator: "\n")
            }
            files[name] = text
        }
        return try TempStack(files, folder: "shop")
    }

    @Test func browserChecksEveryPage() async throws {
        for tool in [Self.venvPython, "/usr/bin/chromium", "/usr/bin/chromedriver"] {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: run ./install.sh --test-tools")
        }
        let stack = try Self.shop()
        let up = try RunningUp(in: stack.root)
        #expect(await up.waitFor("all 5 services are ready", timeout: .seconds(60)))
        let state = try #require(await stack.state { $0.ports.gateway?["https"] != nil && $0.ports.otlp != nil })
        // The shop's external: orders reaches the payments stand-in through its ambassador
        // (replay-or-live): the first call goes out and is recorded, the same call later replays.
        let orders = try #require(state.ports.services["orders"])
        func pay() async throws {
            let paid = try await GatewayTests.tool("/usr/bin/curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(orders)/payments/1"])
            #expect(paid.out.contains(#""status": "paid""#), "\(paid.out)\(paid.err)")
        }
        try await pay()
        // The recording lands on the writer thread just after the answer: asked until there.
        let until = ContinuousClock.now + .seconds(10)
        while try await !DevMeshBinary.runDetached(["requests", "--json", "--service", "external-payments"], in: stack.root).stdout
            .contains("/charges/1"), ContinuousClock.now < until {
            try await Task.sleep(for: .milliseconds(50))
        }
        try await pay()
        let counts = try await DevMeshBinary.runDetached(["external", "--json"], in: stack.root).stdout
        #expect(counts.contains(#""live" : 1"#) && counts.contains(#""replayed" : 1"#) && counts.contains(#""recorded" : 1"#), "\(counts)")
        let https = try #require(state.ports.gateway?["https"]), otlp = try #require(state.ports.otlp)

        let screenshots = ProcessInfo.processInfo.environment["DEVMESH_SCREENSHOTS"].map {
            $0.hasPrefix("/") ? $0 : Self.repository.appendingPathComponent($0).path
        } ?? stack.root + "/screenshots"
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)

        // On a Dispatch thread (GatewayTests.tool): the browser run takes half a minute, which must
        // not hold a thread of the cooperative pool that other suites' tests are waiting for.
        let run = try await GatewayTests.tool(Self.venvPython, [
            Self.repository.appendingPathComponent("Tests/Browser/ui_test.py").path,
            "--admin", state.adminURL, "--gateway", "https://localhost:\(https)",
            "--ca", TestHome.path + "/ca/ca.pem", "--token", state.token, "--otlp", "http://127.0.0.1:\(otlp)", "--screenshots", screenshots,
            "--bearer", try String(contentsOfFile: stack.root + "/keys/bob.jwt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)])
        let text = run.out + run.err
        #expect(run.code == 0, "ui_test.py failed:\n\(text)")
        #expect(!text.contains("FAIL"), "\(text)")
        #expect(text.contains("19 passed, 0 failed"), "every check ran:\n\(text)")
        for page in ["overview", "traces", "trace-detail", "compare", "logs", "service-map", "requests", "request-detail", "replay-diff", "gateway"] {
            #expect(FileManager.default.fileExists(atPath: "\(screenshots)/\(page).png"), "no screenshot of \(page)")
        }

        // `devmesh ui` prints the URL (`--no-open`: never a browser from a test).
        let ui = try await DevMeshBinary.runDetached(["ui", "--no-open"], in: stack.root)
        #expect(ui.code == 0)
        #expect(ui.stdout == state.adminURL + "/?token=\(state.token)\n")
        let traces = try await DevMeshBinary.runDetached(["ui", "traces", "--no-open"], in: stack.root)
        #expect(traces.stdout == state.adminURL + "/traces?token=\(state.token)\n")
        let trace = try await DevMeshBinary.runDetached(["ui", "ABCDEF0123456789", "--no-open"], in: stack.root)
        #expect(trace.stdout == state.adminURL + "/traces/abcdef0123456789?token=\(state.token)\n")
        // The sample's saved replay suite passes against the sample stack (after the browser's traffic).
        let suite = try await DevMeshBinary.runDetached(["replay", "--suite", "replay/smoke.yaml"], in: stack.root)
        #expect(suite.code == 0, "\(suite.stdout)\(suite.stderr)")
        #expect(suite.stdout.contains("6 replayed: 6 identical, 0 different"), "\(suite.stdout)")
        let bad = try await DevMeshBinary.runDetached(["ui", "nowhere"], in: stack.root)
        #expect(bad.code != 0)
        #expect(bad.stderr.contains("unknown page `nowhere`"))

        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
        let none = try await DevMeshBinary.runDetached(["ui"], in: stack.root)
        #expect(none.code == 1)
        #expect(none.stderr.contains("no devmesh stack is running"))
    }
}
