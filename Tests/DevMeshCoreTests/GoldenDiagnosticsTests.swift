import DevMeshCore
import Foundation
import Testing

/// Each folder under `Golden/` is a stack whose `devmesh check` output is pinned in `expected.txt`.
/// Regenerate after an intended change with `DEVMESH_UPDATE_GOLDEN=1 swift test --filter Golden`.
@Suite struct GoldenDiagnosticsTests {
    static let goldenRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: goldenRoot)) ?? []).sorted()
    }

    /// Loads one case the way `devmesh check` does, from an in-memory copy of its folder.
    static func render(_ name: String) throws -> String {
        let folder = goldenRoot + "/" + name
        var files: [String: String] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: folder) where file != "expected.txt" {
            files[folder + "/" + file] = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
        }
        let loader = ConfigLoader(files: InMemoryFiles(files), environment: ["HOME": "/home/dev"], purpose: .check,
                                  workingDirectory: folder)
        let loaded = loader.load()
        var out = DiagnosticRenderer(sources: loaded.sources).render(loaded.diagnostics)
        if !loaded.diagnostics.hasErrors, let config = loaded.config {
            out += "ok: \(config.services.map(\.name).joined(separator: ", "))\n"
        }
        return out
    }

    @Test("there are golden cases for at least 12 kinds of problem")
    func enoughCases() {
        #expect(Self.cases.count >= 12)
    }

    @Test("check output matches the golden file", arguments: cases)
    func golden(_ name: String) throws {
        let actual = try Self.render(name)
        let expectedPath = Self.goldenRoot + "/" + name + "/expected.txt"
        if ProcessInfo.processInfo.environment["DEVMESH_UPDATE_GOLDEN"] == "1" {
            try actual.write(toFile: expectedPath, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: expectedPath, encoding: .utf8)
        #expect(actual == expected, "golden case \(name) differs; rerun with DEVMESH_UPDATE_GOLDEN=1 if intended")
    }
}
