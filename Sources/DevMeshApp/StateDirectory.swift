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

    /// Takes the stack's lock for the life of this process. It is a POSIX record lock on
    /// `.devmesh/lock`: the kernel drops it when we die, even by SIGKILL, so a stale lock is
    /// impossible, and other processes can test it (`lockHolder()`) without ever taking it, so a
    /// `status` or `down` never makes a starting `up` think the stack is running.
    /// Returns the descriptor to keep open.
    public func acquireLock() throws -> Int32 {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw LockError.io("cannot create \(path): \(error.localizedDescription)")
        }
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LockError.io("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        var lock = Self.wholeFile(type: F_WRLCK)
        if fcntl(fd, F_SETLK, &lock) != 0 {
            close(fd)
            throw LockError.alreadyRunning(readState())
        }
        return fd
    }

    /// The pid of the devmesh holding this stack's lock, if one does.
    public func lockHolder() -> Int32? {
        let fd = open(lockPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var lock = Self.wholeFile(type: F_WRLCK)
        guard fcntl(fd, F_GETLK, &lock) == 0, lock.l_type != F_UNLCK else { return nil }
        return lock.l_pid
    }

    /// Whether a devmesh currently holds this stack's lock.
    public func isLocked() -> Bool { lockHolder() != nil }

    private static func wholeFile(type: Int32) -> flock {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        return lock
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

    /// Stops the processes a previous devmesh recorded but did not stop (it was SIGKILLed, or the
    /// OOM killer took it). Each recorded child's process group is searched, so helpers survive
    /// the death of their leader are found too. A process is only touched when it is provably
    /// ours: the recorded leader with its recorded start time, or a member of the group started
    /// with that replica's `DEVMESH_SERVICE`/`DEVMESH_REPLICA`. Returns the instance ids stopped.
    public func cleanUpLeftovers(grace: Duration = .seconds(5)) -> [String] {
        guard let state = readState() else { return [] }
        struct Leftover { var pid: Int32; var startTime: UInt64? }
        var found: [String: [Leftover]] = [:]
        for child in state.children {
            for pid in ProcessControl.groupMembers(child.pid) {
                let startTime = ProcessControl.startTime(of: pid)
                let ours = pid == child.pid
                    ? (child.startTime != nil && startTime == child.startTime)
                    : ProcessControl.devmeshInstance(of: pid) == child.instance
                if ours { found[child.instance, default: []].append(Leftover(pid: pid, startTime: startTime)) }
            }
        }
        let leftovers = found.values.flatMap { $0 }
        func stillOurs(_ l: Leftover) -> Bool {
            ProcessControl.isAlive(l.pid) && ProcessControl.startTime(of: l.pid) == l.startTime
        }
        for l in leftovers { kill(l.pid, SIGTERM) }
        // These are not our children, so waitpid cannot tell us they exited: watch them go.
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, leftovers.contains(where: stillOurs) {
            usleep(20_000)
        }
        for l in leftovers where stillOurs(l) { kill(l.pid, SIGKILL) }
        removeState()
        return found.keys.sorted()
    }
}
