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

    /// scripts/build-release.sh links functions in the order a running stack first uses them
    /// (docs/performance.md, "Memory"): the recorded order is the binary's layout. The Swift
    /// runtime's functions are left out — it comes prebuilt and cannot be reordered. With the
    /// linker's own layout about half of consecutive pairs would be in address order.
    @Test func releaseBinaryKeepsTheRecordedFunctionOrder() throws {
        guard Self.requireReleaseBinary() else { return }
        func output(_ tool: String, _ arguments: [String]) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = arguments
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(tool) \(arguments)")
            return String(decoding: data, as: UTF8.self)
        }
        let order = try output("/bin/gzip", ["-dc", Self.packageRoot + "/scripts/function-order.txt.gz"]).split(separator: "\n")
        var address: [Substring: UInt64] = [:]
        for line in try output("/usr/bin/nm", ["--defined-only", Self.releaseBinary]).split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[1] == "t" || parts[1] == "T", let a = UInt64(parts[0], radix: 16) else { continue }
            if address[parts[2]] == nil { address[parts[2]] = a }
        }
        let runtime = ["$ss", "$sS", "swift", "_swift"]
        let placed = order.filter { name in !runtime.contains { name.hasPrefix($0) } }.compactMap { address[$0] }
        #expect(placed.count > order.count / 2, "most recorded functions are in the binary: \(placed.count) of \(order.count)")
        let inOrder = zip(placed, placed.dropFirst()).filter { $0 < $1 }.count
        #expect(Double(inOrder) > 0.8 * Double(max(placed.count - 1, 1)),
                "\(inOrder) of \(placed.count - 1) consecutive recorded functions are in address order")
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
