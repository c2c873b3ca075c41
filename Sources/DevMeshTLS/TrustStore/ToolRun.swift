import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One run of an external tool (`update-ca-certificates`, `certutil`) to completion, its stdout
/// and stderr together. These tools print little, so one pipe read to the end cannot block.
struct ToolRun: Sendable {
    let status: Int32
    let output: String

    var succeeded: Bool { status == 0 }

    /// The last lines of the output, for an error message.
    var tail: String {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: true)
        return lines.suffix(8).joined(separator: "\n")
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String]) -> ToolRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            return ToolRun(status: 127, output: "could not run \(executable): \(error)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ToolRun(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}

/// Small file operations of the trust stores and the bundle.
enum TrustFiles {
    /// The file's text, or nil when it cannot be read.
    static func text(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes `text` to `path` through a temporary file in the same folder and a rename, so a
    /// reader sees the old file or the new one, never a part.
    static func writeAtomically(_ text: String, to path: String, mode: Int) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = directory + "/." + (path as NSString).lastPathComponent + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw TrustStoreError.cannotWrite(path: path, reason: "cannot create \(temporary)")
        }
        // createFile's mode is filtered by the umask; the stores need exactly this one.
        do {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: temporary)
            if rename(temporary, path) != 0 {
                throw TrustStoreError.cannotWrite(path: path, reason: String(cString: strerror(errno)))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }
}

/// Why a trust operation could not start.
public enum TrustStoreError: Error, CustomStringConvertible, Equatable {
    case cannotWrite(path: String, reason: String)
    case noSystemBundle(candidates: [String])

    public var description: String {
        switch self {
        case let .cannotWrite(path, reason):
            "cannot write \(path): \(reason)"
        case let .noSystemBundle(candidates):
            "no system CA bundle found (looked for \(candidates.joined(separator: ", "))); devmesh's bundle is the "
                + "system CAs plus its own, never its own alone. Install the system CAs (Debian/Ubuntu: "
                + "`sudo apt-get install ca-certificates`) and run the command again."
        }
    }
}
