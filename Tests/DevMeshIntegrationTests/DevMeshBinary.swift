import DevMeshCore
import DevMeshSupervisor
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// The `devmesh` executable under test: `DEVMESH_BINARY`, or the one built next to the test bundle.
enum DevMeshBinary {
    static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["DEVMESH_BINARY"] { return explicit }
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidate = bundleDir.appendingPathComponent("devmesh").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/devmesh").path
    }

    /// Runs a short command to completion and returns its exit code and output.
    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> (code: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, b in b }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

/// A temporary stack folder with the files a test writes.
struct TempStack {
    let root: String

    init(_ files: [String: String]) throws {
        root = (NSTemporaryDirectory() as NSString).appendingPathComponent("devmesh-it-" + UUID().uuidString)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(toFile: root + "/" + name, atomically: true, encoding: .utf8)
        }
    }

    var state: StackState? {
        guard let data = FileManager.default.contents(atPath: root + "/.devmesh/state.json") else { return nil }
        return try? JSONDecoder().decode(StackState.self, from: data)
    }
}

/// A running `devmesh up`, its output collected line by line so a test can wait for a line.
final class RunningUp: Sendable {
    let process: Process
    private let lines = NIOLockedValueBox<[String]>([])
    private let condition = NIOLockedValueBox<[(String, CheckedContinuation<Bool, Never>)]>([])
    private let exit = NIOLockedValueBox<(code: Int32?, waiters: [CheckedContinuation<Int32?, Never>])>((nil, []))

    init(_ arguments: [String] = [], in directory: String, environment: [String: String] = [:]) throws {
        let adminPort = try PortAllocator.freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: DevMeshBinary.path)
        process.arguments = ["up", "--no-color", "--admin-port", String(adminPort)] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment.merging(environment) { _, b in b }
        env["DEVMESH_TEST_RESTART_TUNING"] = env["DEVMESH_TEST_RESTART_TUNING"] ?? "100,1000,5000,5,60000,2000"
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let handle = pipe.fileHandleForReading
        let lines = self.lines
        let condition = self.condition
        let pending = NIOLockedValueBox<[UInt8]>([])
        handle.readabilityHandler = { h in
            let data = h.availableData
            if data.isEmpty { h.readabilityHandler = nil; return }
            let complete: [String] = pending.withLockedValue { buffer in
                buffer += data
                var out: [String] = []
                while let nl = buffer.firstIndex(of: 10) {
                    out.append(String(decoding: buffer[..<nl], as: UTF8.self))
                    buffer.removeSubrange(...nl)
                }
                return out
            }
            guard !complete.isEmpty else { return }
            lines.withLockedValue { $0 += complete }
            let ready = condition.withLockedValue { waiters -> [CheckedContinuation<Bool, Never>] in
                var hit: [CheckedContinuation<Bool, Never>] = []
                waiters.removeAll { w in
                    if complete.contains(where: { $0.contains(w.0) }) { hit.append(w.1); return true }
                    return false
                }
                return hit
            }
            for c in ready { c.resume(returning: true) }
        }
        let exit = self.exit
        process.terminationHandler = { p in
            let waiters = exit.withLockedValue { state -> [CheckedContinuation<Int32?, Never>] in
                state.code = p.terminationStatus
                defer { state.waiters = [] }
                return state.waiters
            }
            for w in waiters { w.resume(returning: p.terminationStatus) }
        }
        try process.run()
    }

    var output: [String] { lines.withLockedValue { $0 } }
    var pid: Int32 { process.processIdentifier }

    /// Waits until a line containing `fragment` has been printed (or `timeout` passes).
    func waitFor(_ fragment: String, timeout: Duration = .seconds(30)) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { c in
                    let seen = self.lines.withLockedValue { $0.contains { $0.contains(fragment) } }
                    if seen { c.resume(returning: true); return }
                    self.condition.withLockedValue { $0.append((fragment, c)) }
                    // A line may have arrived between the check and the registration.
                    if self.lines.withLockedValue({ $0.contains { $0.contains(fragment) } }) {
                        self.resolve(fragment)
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let result = await group.next() ?? false
            if !result { self.resolve(fragment, with: false) }
            group.cancelAll()
            _ = await group.next()
            return result
        }
    }

    private func resolve(_ fragment: String, with value: Bool = true) {
        let hit = condition.withLockedValue { waiters -> [CheckedContinuation<Bool, Never>] in
            var out: [CheckedContinuation<Bool, Never>] = []
            waiters.removeAll { w in
                if w.0 == fragment { out.append(w.1); return true }
                return false
            }
            return out
        }
        for c in hit { c.resume(returning: value) }
    }

    /// Waits for the process to exit; nil if it is still running after `timeout`.
    func exitCode(timeout: Duration = .seconds(30)) async -> Int32? {
        await withTaskGroup(of: Int32?.self) { group in
            group.addTask {
                await withCheckedContinuation { c in
                    let done = self.exit.withLockedValue { state -> Int32? in
                        if let code = state.code { return code }
                        state.waiters.append(c)
                        return nil
                    }
                    if let done { c.resume(returning: done) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil {
                // Still running: answer the pending waiter so the group can finish.
                let waiters = self.exit.withLockedValue { state -> [CheckedContinuation<Int32?, Never>] in
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for w in waiters { w.resume(returning: nil) }
            }
            group.cancelAll()
            _ = await group.next()
            return first
        }
    }

    func signal(_ sig: Int32) {
        kill(process.processIdentifier, sig)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A tiny HTTP app (Python standard library) with `/healthz`, used as a service in tests.
let httpAppPy = """
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s" % (os.environ.get("DEVMESH_SERVICE"), self.path)).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
print("listening on", os.environ["PORT"], flush=True)
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""
