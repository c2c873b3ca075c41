#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds free TCP ports on 127.0.0.1.
public enum PortAllocator {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Automatic ports come from here: below the kernel's ephemeral range (Linux 32768–60999,
    /// macOS 49152–65535), which is where every outgoing connection of every program takes its
    /// local port. A port taken from the ephemeral range can be grabbed by some client's connect
    /// between devmesh choosing it and binding it; one below the range can only be taken by
    /// another program that binds it on purpose.
    static let automaticRange = 20_000..<32_768

    /// A port free now: a random one of `automaticRange` that binds, or else (a crowded range)
    /// one the kernel picks.
    public static func freePort() throws -> Int {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<64 {
            let candidate = Int.random(in: automaticRange, using: &rng)
            if isFree(candidate) { return candidate }
        }
        return try kernelPort()
    }

    /// A port the kernel considers free now (bind to port 0, read it back, close).
    static func kernelPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure(description: "bind() failed: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether `port` can be bound on 127.0.0.1 right now.
    public static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// `count` distinct free ports, none of them in `excluding`.
    public static func freePorts(_ count: Int, excluding: Set<Int>) throws -> [Int] {
        var out: [Int] = []
        var taken = excluding
        var tries = 0
        while out.count < count {
            tries += 1
            if tries > count * 20 { throw Failure(description: "could not find \(count) free ports on 127.0.0.1") }
            let p = try freePort()
            if taken.insert(p).inserted { out.append(p) }
        }
        return out
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }
}
