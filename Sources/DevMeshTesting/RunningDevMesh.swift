import DevMeshCore
import DevMeshSupervisor
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// The `devmesh` executable under test: `DEVMESH_BINARY`, or the one built next to the test bundle.
/// A `DEVMESH_HOME` of the test process (its CA included), so tests never create or change
/// the user's real one. One per process: CA creation is paid once.
public enum TestHome {
    public static let path: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("devmesh-test-home-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// The environment a devmesh child of a test gets: the test home unless the test set one.
    static func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.merging(extra) { _, b in b }
        if extra["DEVMESH_HOME"] == nil { env["DEVMESH_HOME"] = path }
        return env
    }
}

public enum DevMeshBinary {
    public static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["DEVMESH_BINARY"] { return explicit }
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundleDir.appendingPathComponent("devmesh").path
    }

    /// `run` off Swift's cooperative pool: a test that runs many commands must not hold one of
    /// its few threads (2 on a 2-core machine) while the child runs, or other tests' timers starve.
    public static func runDetached(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws
        -> (code: Int32, stdout: String, stderr: String) {
        try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async {
                c.resume(with: Result { try run(arguments, in: directory, environment: environment) })
            }
        }
    }

    /// Runs a short command to completion and returns its exit code and output.
    public static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> (code: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = TestHome.environment(environment)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read stderr on a thread of its own: a full stderr pipe must not block stdout.
        let stderrData = NIOLockedValueBox(Data())
        let stderrDone = DispatchGroup()
        stderrDone.enter()
        Thread.detachNewThread {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            stderrData.withLockedValue { $0 = data }
            stderrDone.leave()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        stderrDone.wait()
        let stderr = stderrData.withLockedValue { $0 }
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

/// A temporary stack folder with the files a test writes.
public struct TempStack: Sendable {
    public let root: String

    /// `folder` names the stack's folder (what devmesh shows as the stack's name); it goes in a
    /// fresh temporary folder of its own.
    public init(_ files: [String: String], folder: String? = nil) throws {
        let base = (NSTemporaryDirectory() as NSString).appendingPathComponent("devmesh-it-" + UUID().uuidString)
        root = folder.map { base + "/" + $0 } ?? base
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for (name, text) in files {
            // `policies/deny.yaml`: folders are created as needed.
            let path = root + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    public var state: StackState? {
        guard let data = FileManager.default.contents(atPath: root + "/.devmesh/state.json") else { return nil }
        return try? JSONDecoder().decode(StackState.self, from: data)
    }

    /// The state once `condition` holds: state.json is rewritten as children come and go, after
    /// their first output may already have been seen. Re-reads it until then (bounded).
    public func state(where condition: @escaping @Sendable (StackState) -> Bool, timeout: Duration = .seconds(10)) async -> StackState? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let s = state, condition(s) { return s }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

/// A running `devmesh up`, its output collected line by line so a test can wait for a line.
public final class RunningUp: Sendable {
    public let process: Process
    public let lines = Observed<String>()
    private let exit = Observed<Int32>()
    /// Set when the output pipe reached EOF: every line the process printed has been read.
    private let outputClosed = Observed<Bool>()

    /// Starts `devmesh up --no-color ARGUMENTS` in `directory`, with short restart timings unless
    /// the test sets its own.
    public init(_ arguments: [String] = [], in directory: String, environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: DevMeshBinary.path)
        // Every port is left to devmesh (the admin port too): tests run side by side, and a port
        // picked here could be taken by another test's stack before this one binds it (an explicit
        // port must then fail); default ports move to a free one instead, also when taken at the
        // last moment (state.json tells which).
        process.arguments = ["up", "--no-color"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = TestHome.environment(environment)
        env["DEVMESH_TEST_RESTART_TUNING"] = env["DEVMESH_TEST_RESTART_TUNING"] ?? "100,1000,5000,5,60000,2000"
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let lines = self.lines
        let outputClosed = self.outputClosed
        let reader = pipe.fileHandleForReading
        // One reader thread per process: whole lines, in order, until EOF.
        Thread.detachNewThread {
            var pending: [UInt8] = []
            while true {
                let data = reader.availableData
                if data.isEmpty { break }
                pending += data
                while let nl = pending.firstIndex(of: 10) {
                    lines.append(String(decoding: pending[..<nl], as: UTF8.self))
                    pending.removeSubrange(...nl)
                }
            }
            if !pending.isEmpty { lines.append(String(decoding: pending, as: UTF8.self)) }
            outputClosed.append(true)
        }
        let exit = self.exit
        process.terminationHandler = { exit.append($0.terminationStatus) }
        try process.run()
    }

    public var output: [String] { lines.items }
    public var pid: Int32 { process.processIdentifier }

    /// Waits until a line containing `fragment` has been printed (or `timeout` passes, or the
    /// output ends: a devmesh that exited prints nothing more). On failure the last lines go to
    /// stderr, so a CI log shows why.
    /// With `count`, waits for that many such lines.
    public func waitFor(_ fragment: String, count: Int = 1, timeout: Duration = .seconds(30)) async -> Bool {
        let lines = self.lines, outputClosed = self.outputClosed
        // Each line is shown to the predicate once (those already read, then each new one).
        let seen = NIOLockedValueBox(0)
        let found = await withTaskGroup(of: Bool?.self) { group -> Bool in
            group.addTask {
                await lines.first(timeout: timeout) { line in
                    guard line.contains(fragment) else { return false }
                    return seen.withLockedValue { $0 += 1; return $0 >= count }
                } != nil
            }
            group.addTask {
                _ = await outputClosed.first(timeout: timeout) { _ in true }
                return nil
            }
            // nil: the output ended first; the line can then only be among what was read.
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? (lines.items.filter { $0.contains(fragment) }.count >= count)
        }
        if !found {
            let tail = output.suffix(30).map { "  | " + $0 }.joined(separator: "\n")
            FileHandle.standardError.write(Data("RunningUp: no line with `\(fragment)`; the last lines were:\n\(tail)\n".utf8))
        }
        return found
    }

    /// Waits for the process to exit (and for its output to be read to the end); nil if it is
    /// still running after `timeout`.
    public func exitCode(timeout: Duration = .seconds(30)) async -> Int32? {
        guard let code = await exit.first(timeout: timeout, where: { _ in true }) else { return nil }
        // Children that inherited nothing close the pipe with devmesh; wait for the last lines.
        _ = await outputClosed.first(timeout: .seconds(5)) { _ in true }
        return code
    }

    public func signal(_ sig: Int32) {
        kill(process.processIdentifier, sig)
    }

    /// A test that failed before stopping its stack: SIGTERM, so devmesh stops its children too
    /// (SIGKILL would leave them running).
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    }
}
