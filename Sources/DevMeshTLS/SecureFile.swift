#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The few POSIX file operations the CA needs, done with the flags that keep a private key
/// private: files are created with their final mode (`O_EXCL`, never a wider mode first), are
/// published with `link(2)` only once complete, and are read through the descriptor whose
/// mode was checked.
enum SecureFile {
    /// A file's bytes and the permission bits it had when it was read.
    struct Contents {
        var bytes: [UInt8]
        var mode: UInt32
    }

    /// CA files are a few hundred bytes; the cap keeps a wrong path from reading gigabytes.
    static let maximumSize = 1 << 20

    /// Reads a regular file, or returns `nil` when it does not exist. Symbolic links are not
    /// followed, so the mode checked is the mode of the file actually read.
    static func read(_ path: String) throws -> Contents? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw failure(path, "read")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure(path, "read") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CertificateAuthorityError.fileSystem(path: path, action: "read", reason: "not a regular file")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glue.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, "read")
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
            guard bytes.count <= maximumSize else {
                throw CertificateAuthorityError.fileSystem(path: path, action: "read", reason: "file is too large")
            }
        }
        return Contents(bytes: bytes, mode: UInt32(info.st_mode) & 0o7777)
    }

    /// Whether anything (even a dangling link) exists at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Creates `path` and its missing parents with `mode` (existing folders are left alone).
    static func makeDirectories(_ path: String, mode: mode_t) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, mode) != 0, errno != EEXIST {
                throw failure(prefix, "create the folder")
            }
            prefix += "/"
        }
    }

    /// Writes a new file at `path` with exactly `mode`, atomically: the bytes go to a temporary
    /// file created with `O_EXCL` and `mode`, which is then hard-linked to `path`. `link` never
    /// replaces an existing file, so a concurrent writer that lost the race gets `EEXIST`
    /// instead of silently swapping in a second CA.
    static func createExclusively(_ path: String, bytes: [UInt8], mode: mode_t) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw failure(path, "create") }
        defer { unlink(temporary) }
        do {
            // The umask may have removed bits from `mode` (0644 → 0600 under umask 077); set it
            // exactly. It can only narrow a key's 0600, never widen it.
            guard fchmod(fd, mode) == 0 else { throw failure(path, "set the mode of") }
            var written = 0
            while written < bytes.count {
                let n = bytes[written...].withUnsafeBytes { Glue.write(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure(path, "write")
                }
                written += n
            }
            guard fsync(fd) == 0 else { throw failure(path, "write") }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        guard link(temporary, path) == 0 else { throw failure(path, "create") }
    }

    /// Flushes a folder's entries, so files just linked into it survive a crash.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Runs `body` holding an exclusive `flock` on `path` (created 0600 if missing). `flock`
    /// locks belong to the open file description, so this excludes other processes and other
    /// threads of this process alike; the kernel drops the lock if the process dies.
    static func withExclusiveLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw failure(path, "open the lock file") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw failure(path, "lock") }
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }

    private static func failure(_ path: String, _ action: String) -> CertificateAuthorityError {
        .fileSystem(path: path, action: action, reason: String(cString: strerror(errno)))
    }
}

/// The libc `read`/`write`, named apart from the many Swift methods called `read`/`write`.
private enum Glue {
    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.read(fd, buffer, count)
        #elseif canImport(Musl)
        Musl.read(fd, buffer, count)
        #else
        Darwin.read(fd, buffer, count)
        #endif
    }

    static func write(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.write(fd, buffer, count)
        #elseif canImport(Musl)
        Musl.write(fd, buffer, count)
        #else
        Darwin.write(fd, buffer, count)
        #endif
    }
}
