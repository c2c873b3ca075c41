import DevMeshCore
import DevMeshSupervisor
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A stack's `.devmesh/` folder: the lock that allows one `up` per stack, `state.json`, and the
/// cleanup of children a killed devmesh left behind.
public final class StateDirectory: Sendable {
    public static let folderName = ".devmesh"

    public let path: String
    public var statePath: String { path + "/state.json" }
    public var lockPath: String { path + "/lock" }

    public init(root: String) {
        path = Path.join(root, Self.folderName)
    }

    // MARK: - Lock

    public enum LockError: Error {
        /// Another devmesh holds the lock; its state, if readable.
        case alreadyRunning(StackState?)
        case io(String)
    }

    /// Takes the stack's lock for the life of this process (the kernel drops it when we die, even
    /// by SIGKILL, so a stale lock is impossible). Returns the descriptor to keep open.
    public func acquireLock() throws -> Int32 {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw LockError.io("cannot create \(path): \(error.localizedDescription)")
        }
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LockError.io("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            throw LockError.alreadyRunning(readState())
        }
        return fd
    }

    /// Whether a devmesh currently holds this stack's lock.
    public func isLocked() -> Bool {
        let fd = open(lockPath, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }

    // MARK: - state.json

    public func readState() -> StackState? {
        guard let data = FileManager.default.contents(atPath: statePath) else { return nil }
        return try? JSONDecoder().decode(StackState.self, from: data)
    }

    /// Writes atomically (temp file + rename), mode 0600: it holds the admin token.
    public func writeState(_ state: StackState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(state)
        let temp = statePath + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LockError.io("cannot write \(temp): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        let ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        close(fd)
        guard ok, rename(temp, statePath) == 0 else {
            throw LockError.io("cannot write \(statePath): \(String(cString: strerror(errno)))")
        }
    }

    public func removeState() {
        unlink(statePath)
    }

    // MARK: - Leftovers of a killed run

    /// Stops the process groups a previous devmesh recorded but did not stop (it was SIGKILLed, or
    /// the machine's OOM killer took it). Only processes whose start time still matches are touched,
    /// so a reused pid is never signalled. Returns the instance ids that were stopped.
    public func cleanUpLeftovers(grace: Duration = .seconds(5)) -> [String] {
        guard let state = readState() else { return [] }
        let leftovers = state.children.filter { child in
            guard ProcessControl.isAlive(child.pid) else { return false }
            guard let recorded = child.startTime else { return false }
            return ProcessControl.startTime(of: child.pid) == recorded
        }
        guard !leftovers.isEmpty else {
            removeState()
            return []
        }
        for child in leftovers { ProcessControl.signalGroup(child.pid, SIGTERM) }
        // These are not our children, so waitpid cannot tell us they exited: watch them go.
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, leftovers.contains(where: { ProcessControl.isAlive($0.pid) }) {
            usleep(20_000)
        }
        for child in leftovers where ProcessControl.isAlive(child.pid) {
            ProcessControl.signalGroup(child.pid, SIGKILL)
        }
        removeState()
        return leftovers.map(\.instance)
    }
}
