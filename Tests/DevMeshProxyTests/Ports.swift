#if canImport(Glibc)
import Glibc
#endif

/// A loopback port that refuses connections for as long as the returned socket stays open: the
/// socket is bound but never listens, so no other test (running in parallel) can take the port
/// and answer on it. Close the descriptor when done.
func refusingLoopbackPort() throws -> (port: Int, fd: Int32) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw PortError() }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard bound else {
        close(fd)
        throw PortError()
    }
    return (Int(UInt16(bigEndian: addr.sin_port)), fd)
}

struct PortError: Error {}
