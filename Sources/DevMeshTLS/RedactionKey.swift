#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The user's redaction key, `$DEVMESH_HOME/redaction.key` (32 random bytes, 0600): recordings
/// replace secrets with an HMAC under this key (PRODUCT.md, "Secrets"), so equal secrets stay
/// comparable while nobody without the key can test a guess against a marker. Created on first
/// use with the CA's file discipline (final mode at creation, published atomically, one winner
/// when two stacks start at once).
public enum RedactionKey {
    public static let length = 32

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case tooOpen(path: String, mode: UInt32)
        case wrongLength(path: String, bytes: Int)
        case fileSystem(String)

        public var description: String {
            switch self {
            case .tooOpen(let path, let mode):
                return "\(path) is readable by others (mode \(String(mode, radix: 8))): run `chmod 600 \(path)`"
            case .wrongLength(let path, let bytes):
                return "\(path) holds \(bytes) bytes, not a \(RedactionKey.length)-byte key: move it away and devmesh makes a new one (markers in existing recordings then no longer match new ones)"
            case .fileSystem(let why): return why
            }
        }
    }

    public static func path(home: String) -> String { (home.hasSuffix("/") ? home : home + "/") + "redaction.key" }

    /// The key, made now if there is none.
    public static func loadOrCreate(home: String) throws(Failure) -> [UInt8] {
        let path = path(home: home)
        do {
            if let key = try read(path) { return key }
            try SecureFile.makeDirectories(home, mode: 0o700)
            return try SecureFile.withExclusiveLock(path + ".lock") { () throws -> [UInt8] in
                if let key = try read(path) { return key }
                var rng = SystemRandomNumberGenerator()
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try SecureFile.createExclusively(path, bytes: bytes, mode: 0o600)
                SecureFile.syncDirectory(home)
                return bytes
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .fileSystem("\(error)")
        }
    }

    static func read(_ path: String) throws -> [UInt8]? {
        guard let contents = try SecureFile.read(path) else { return nil }
        guard contents.mode & 0o077 == 0 else { throw Failure.tooOpen(path: path, mode: contents.mode) }
        guard contents.bytes.count == length else { throw Failure.wrongLength(path: path, bytes: contents.bytes.count) }
        return contents.bytes
    }
}
