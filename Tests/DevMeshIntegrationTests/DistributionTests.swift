import Foundation
import Testing

/// The installed binary is one self-contained executable (PRODUCT.md, "Distribution"): the Swift
/// runtime is linked statically; only the C/C++ runtime, SQLite and zlib may stay dynamic.
@Suite struct DistributionTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// install.sh's build; `DEVMESH_RELEASE_BINARY` names another one.
    static var releaseBinary: String {
        ProcessInfo.processInfo.environment["DEVMESH_RELEASE_BINARY"] ?? packageRoot + "/.build-release/release/devmesh"
    }

    static let allowedLibraries: Set<String> = [
        "linux-vdso.so.1", "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libutil.so.1",
        "libstdc++.so.6", "libgcc_s.so.1", "libsqlite3.so.0", "libz.so.1",
    ]

    static func isLoader(_ name: String) -> Bool { name.hasPrefix("ld-linux") || name.hasPrefix("/lib64/ld-linux") }

    /// Present after install.sh. In CI (`CI` set) its absence is a failure, not a skip.
    static func requireReleaseBinary() -> Bool {
        if FileManager.default.isExecutableFile(atPath: releaseBinary) { return true }
        if ProcessInfo.processInfo.environment["CI"] != nil {
            Issue.record("no release binary at \(releaseBinary): the README's test command runs ./install.sh first")
        }
        return false
    }

    @Test func releaseBinaryLinksOnlyTheAllowedLibraries() throws {
        guard Self.requireReleaseBinary() else { return }
        let ldd = Process()
        ldd.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        ldd.arguments = [Self.releaseBinary]
        let pipe = Pipe()
        ldd.standardOutput = pipe
        try ldd.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ldd.waitUntilExit()
        #expect(ldd.terminationStatus == 0)
        let libraries = text.split(separator: "\n").compactMap { line -> String? in
            line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init)
        }
        #expect(!libraries.isEmpty)
        let unexpected = libraries.filter { !Self.allowedLibraries.contains($0) && !Self.isLoader($0) }
        #expect(unexpected.isEmpty, "dynamic libraries beyond the allowed list: \(unexpected)")
        #expect(!libraries.contains { $0.hasPrefix("libswift") || $0.hasPrefix("libFoundation") || $0.hasPrefix("libdispatch") })
    }

    @Test func releaseBinaryKnowsItsCommit() throws {
        guard Self.requireReleaseBinary() else { return }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.releaseBinary)
        p.arguments = ["version"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text.hasPrefix("devmesh 0.1.0 (commit "))
        #expect(!text.contains("commit unknown"), "install.sh passes the git commit: \(text)")
    }
}
