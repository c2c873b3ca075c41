import CDevMeshShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child started with `/bin/sh -c COMMAND` in its own process group, stdin from /dev/null,
/// stdout and stderr on pipes the caller reads.
public struct ChildProcess: Sendable {
    public let pid: Int32
    /// Read ends of the child's stdout and stderr; the caller owns them.
    public let stdoutFD: Int32
    public let stderrFD: Int32

    public struct SpawnError: Error, CustomStringConvertible {
        public let call: String
        public let errno: Int32
        public var description: String { "\(call) failed: \(String(cString: strerror(errno)))" }
    }

    /// Spawns the command. The process group id equals the pid, so `kill(-pid, …)` reaches
    /// everything the command started (shell pipelines, reloaders, workers).
    public static func spawn(command: String, environment: [String: String], directory: String) throws -> ChildProcess {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard cdevmesh_pipe_cloexec(&outPipe) == 0 else { throw SpawnError(call: "pipe", errno: errno) }
        guard cdevmesh_pipe_cloexec(&errPipe) == 0 else {
            let e = errno
            close(outPipe[0]); close(outPipe[1])
            throw SpawnError(call: "pipe", errno: e)
        }
        defer {
            close(outPipe[1])
            close(errPipe[1])
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // Descriptors devmesh inherited without close-on-exec stay with devmesh.
        _ = cdevmesh_spawn_addclosefrom(&actions, 3)
        guard cdevmesh_spawn_addchdir(&actions, directory) == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw SpawnError(call: "posix_spawn_file_actions_addchdir_np", errno: ENOSYS)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Own process group; default signal handling and an empty mask, whatever devmesh itself uses.
        var defaults = sigset_t()
        sigfillset(&defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ["/bin/sh", "-c", command]
        let envp = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let result = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnvp in
                posix_spawn(&pid, "/bin/sh", &actions, &attributes, cArgv, cEnvp)
            }
        }
        guard result == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw SpawnError(call: "posix_spawn", errno: result)
        }
        return ChildProcess(pid: pid, stdoutFD: outPipe[0], stderrFD: errPipe[0])
    }
}

func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    var array = pointers
    return array.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

/// Signals and facts about processes, by pid.
public enum ProcessControl {
    /// Sends `signal` to the process group `pgid`; `false` when the group no longer exists.
    @discardableResult
    public static func signalGroup(_ pgid: Int32, _ signal: Int32) -> Bool {
        kill(-pgid, signal) == 0
    }

    /// Whether `pid` names a running process (a zombie waiting to be reaped counts as gone).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = readSmallFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    /// Start time of a process in clock ticks since boot (`/proc/<pid>/stat` field 22), so a
    /// recorded pid can be told apart from a later process that reuses the number.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let text = readSmallFile("/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field 22 is at index 19.
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// Live members of process group `pgid`, from /proc (a child's grandchildren are not ours to
    /// wait for, so this is how to know they are gone). Zombies count as gone.
    public static func groupMembers(_ pgid: Int32) -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var members: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name), let stat = readSmallFile("/proc/\(pid)/stat"),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is the state, fields[2] the process group.
            if fields.count > 2, fields[0] != "Z", Int32(fields[2]) == pgid { members.append(pid) }
        }
        return members
    }

    /// Blocks until `pid` exits and returns how, leaving it a zombie so its pid and process group
    /// id stay reserved until `reap(_:)`; only for a thread of its own.
    public static func waitForExitKeepingZombie(_ pid: Int32) -> ExitStatusCode {
        var code: Int32 = -1
        var signal: Int32 = 0
        guard cdevmesh_wait_exit_keep_zombie(pid, &code, &signal) == 0 else { return .exited(code: -1) }
        return signal == 0 ? .exited(code: code) : .signaled(signal: signal)
    }

    /// Releases the zombie of a child whose exit was seen by `waitForExitKeepingZombie`.
    public static func reap(_ pid: Int32) {
        cdevmesh_reap(pid)
    }

    /// The `DEVMESH_SERVICE` and `DEVMESH_REPLICA` a process was started with (its initial
    /// environment, `/proc/<pid>/environ`), to recognise devmesh's children among strangers.
    public static func devmeshInstance(of pid: Int32) -> String? {
        let fd = open("/proc/\(pid)/environ", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while bytes.count < 1 << 20 {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[..<n]
        }
        var service: String?, replica: String?
        for entry in bytes.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            if text.hasPrefix("DEVMESH_SERVICE=") { service = String(text.dropFirst(16)) }
            if text.hasPrefix("DEVMESH_REPLICA=") { replica = String(text.dropFirst(16)) }
        }
        guard let service, let replica else { return nil }
        return "\(service).\(replica)"
    }

    public enum ExitStatusCode: Sendable { case exited(code: Int32), signaled(signal: Int32) }

    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n], as: UTF8.self)
    }
}
