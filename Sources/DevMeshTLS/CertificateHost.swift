#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A name devmesh is willing to put in a server certificate: an exact DNS name or an IP literal.
///
/// Host names arrive from clients (SNI), so this is the gate that keeps devmesh from signing
/// arbitrary strings: only lower-case letters, digits, `.` and `-` in well-formed labels, at most
/// 253 characters, and no wildcards (OpenSSL rejects `*.localhost` anyway, so there is no reason
/// to ever issue one).
public enum CertificateHost: Hashable, Sendable, CustomStringConvertible {
    /// A DNS name, lower-cased, without a trailing dot.
    case dnsName(String)
    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address.
    case ipAddress([UInt8], text: String)

    /// Why a string is not a host name devmesh issues certificates for.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var host: String
        public var reason: String
        public var description: String { "cannot issue a certificate for \"\(host)\": \(reason)" }
    }

    /// Parses a DNS name (case-insensitive) or an IP literal (`127.0.0.1`, `::1`, `[::1]`).
    public init(parsing raw: String) throws {
        func invalid(_ reason: String) -> Invalid { Invalid(host: raw, reason: reason) }
        guard !raw.isEmpty else { throw invalid("the name is empty") }

        var literal = Substring(raw)
        if literal.hasPrefix("[") && literal.hasSuffix("]") {
            literal = literal.dropFirst().dropLast()
            guard let bytes = Self.ipv6Bytes(String(literal)) else { throw invalid("not an IPv6 address") }
            self = .ipAddress(bytes, text: String(literal))
            return
        }
        if let bytes = Self.ipv4Bytes(raw) {
            self = .ipAddress(bytes, text: raw)
            return
        }
        if raw.contains(":") {
            guard let bytes = Self.ipv6Bytes(raw) else { throw invalid("not an IPv6 address") }
            self = .ipAddress(bytes, text: raw)
            return
        }

        let name = raw.lowercased()
        guard name.utf8.count <= 253 else { throw invalid("longer than 253 characters") }
        guard !name.contains("*") else { throw invalid("wildcards are not issued; name each host exactly") }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw invalid("empty label") }
            guard label.utf8.count <= 63 else { throw invalid("a label is longer than 63 characters") }
            guard label.utf8.allSatisfy({ Self.isLabelByte($0) }) else {
                throw invalid("only letters, digits, '.' and '-' are allowed")
            }
            guard label.first != "-", label.last != "-" else { throw invalid("a label starts or ends with '-'") }
        }
        self = .dnsName(name)
    }

    /// The canonical text: the lower-cased DNS name, or the IP literal without brackets.
    public var description: String {
        switch self {
        case .dnsName(let name): return name
        case .ipAddress(_, let text): return text
        }
    }

    // MARK: - Parsing helpers

    private static func isLabelByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: "-")
    }

    // inet_pton is strict (dotted quad only, no octal or short forms), unlike inet_aton.
    private static func ipv4Bytes(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    private static func ipv6Bytes(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }
}
