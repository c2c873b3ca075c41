/// Why the local CA could not be loaded, created or used. Every message names the file and
/// says what to do; none ever contains key material.
public enum CertificateAuthorityError: Error, Equatable, CustomStringConvertible {
    /// The key file can be read or written by group/other (`mode` is its permission bits).
    case keyFileTooOpen(path: String, mode: UInt32)
    /// A file or folder could not be read, created or written (`reason` is the system's message).
    case fileSystem(path: String, action: String, reason: String)
    /// The key file is not a PEM-encoded P-256 private key.
    case corruptKey(path: String, directory: String)
    /// The certificate file is not a PEM-encoded X.509 certificate usable as a CA.
    case corruptCertificate(path: String, directory: String, detail: String)
    /// The certificate does not belong to the key.
    case keyMismatch(certificatePath: String, keyPath: String, directory: String)
    /// One of the two files exists without the other.
    case incomplete(missing: String, present: String, directory: String)
    /// The CA certificate is past its `notAfter`.
    case expired(path: String, directory: String)

    public var description: String {
        switch self {
        case .keyFileTooOpen(let path, let mode):
            return "the devmesh CA private key \(path) is accessible to other users (mode \(Self.octal(mode)));"
                + " devmesh refuses to use it. Run: chmod 600 '\(path)'"
        case .fileSystem(let path, let action, let reason):
            return "cannot \(action) \(path): \(reason)"
        case .corruptKey(let path, let directory):
            return "the devmesh CA private key \(path) is not a PEM-encoded P-256 key. "
                + Self.startOver(directory)
        case .corruptCertificate(let path, let directory, let detail):
            return "the devmesh CA certificate \(path) is unusable (\(detail)). " + Self.startOver(directory)
        case .keyMismatch(let certificatePath, let keyPath, let directory):
            return "the devmesh CA certificate \(certificatePath) does not match the key \(keyPath). "
                + Self.startOver(directory)
        case .incomplete(let missing, let present, let directory):
            return "the devmesh CA is incomplete: \(present) exists but \(missing) does not. " + Self.startOver(directory)
        case .expired(let path, let directory):
            return "the devmesh CA certificate \(path) has expired. " + Self.startOver(directory)
        }
    }

    /// The one way out of a broken CA, with the cost spelled out: the new CA is not trusted yet.
    private static func startOver(_ directory: String) -> String {
        "To create a new CA, delete the folder \(directory) and run devmesh again;"
            + " anything that trusted the old CA (system trust store, browsers) must then trust the new one"
            + " (devmesh ca install)."
    }

    private static func octal(_ mode: UInt32) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
