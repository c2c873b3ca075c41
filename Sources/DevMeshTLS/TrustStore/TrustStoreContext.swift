import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where and as whom the trust stores are changed: the real machine, or a scratch root in tests.
public struct TrustStoreContext: Sendable {
    /// "/" in real use; another folder stands for it in tests and packaging (`--root`), so
    /// `<root>/usr/local/share/ca-certificates` and `<root>/etc/ssl/certs` are used instead.
    public var root: String
    /// The user's home, where NSS databases (Chrome, Firefox) are looked for; nil: none.
    public var home: String?
    /// Folders searched for `update-ca-certificates`, `update-ca-trust`, `certutil`.
    public var searchPath: [String]
    /// Whether this process may create or replace files in a folder. The default asks the kernel
    /// (`access(W_OK)` on the folder or its nearest existing parent); tests inject a "no", since
    /// they run as root, who may write anywhere.
    public var isWritable: @Sendable (String) -> Bool
    /// The command that repeats `devmesh ca ACTION` (`install`, `uninstall`) with privileges, e.g.
    /// `sudo DEVMESH_HOME=/home/me/.local/share/devmesh /usr/local/bin/devmesh ca install`.
    public var privilegedCommand: @Sendable (_ action: String) -> String
    /// Which system store this machine has.
    public var platform: SystemTrustPlatform
    /// The environment the tools run with.
    public var environment: [String: String]

    public init(
        root: String = "/", home: String?, searchPath: [String], environment: [String: String] = [:],
        privilegedCommand: @escaping @Sendable (_ action: String) -> String = { "sudo devmesh ca \($0)" },
        platform: SystemTrustPlatform? = nil,
        isWritable: @escaping @Sendable (String) -> Bool = TrustStoreContext.kernelSaysWritable
    ) {
        self.root = root
        self.home = home
        self.searchPath = searchPath
        self.environment = environment
        self.privilegedCommand = privilegedCommand
        self.isWritable = isWritable
        self.platform = platform ?? SystemTrustPlatform.detect(searchPath: searchPath)
    }

    /// The context of this process: `PATH` (plus the sbin folders, where the tools live),
    /// `HOME`, and the given root.
    public static func current(
        root: String = "/", environment: [String: String],
        privilegedCommand: @escaping @Sendable (_ action: String) -> String
    ) -> TrustStoreContext {
        var path = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] where !path.contains(dir) {
            path.append(dir)
        }
        return TrustStoreContext(
            root: root, home: environment["HOME"], searchPath: path, environment: environment,
            privilegedCommand: privilegedCommand)
    }

    /// `path` below the root: `/etc/ssl/certs` is `<root>/etc/ssl/certs`.
    public func underRoot(_ path: String) -> String {
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        return base + path
    }

    /// The executable `name` in `searchPath`, if any.
    public func executable(_ name: String) -> String? {
        Self.find(name, in: searchPath)
    }

    static func find(_ name: String, in searchPath: [String]) -> String? {
        searchPath.lazy.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `access(W_OK)` on `path`, or on its nearest existing parent when it does not exist yet.
    public static let kernelSaysWritable: @Sendable (String) -> Bool = { path in
        var candidate = path
        while !FileManager.default.fileExists(atPath: candidate) {
            let parent = (candidate as NSString).deletingLastPathComponent
            if parent == candidate || parent.isEmpty { return false }
            candidate = parent
        }
        return access(candidate, W_OK) == 0
    }
}

/// The system trust store of this machine, told apart by its tool.
public enum SystemTrustPlatform: Sendable, Equatable {
    /// Debian, Ubuntu and derivatives: `update-ca-certificates` (at this path), done by devmesh.
    case debian(tool: String)
    /// Fedora, RHEL, CentOS: `update-ca-trust`; devmesh prints the commands.
    case fedora
    /// macOS: the System keychain; devmesh prints the `security` commands.
    case macOS
    /// None of the above: devmesh says which file to trust.
    case unknown

    public static func detect(searchPath: [String]) -> SystemTrustPlatform {
        #if os(macOS)
        return .macOS
        #else
        if let tool = TrustStoreContext.find("update-ca-certificates", in: searchPath) { return .debian(tool: tool) }
        if TrustStoreContext.find("update-ca-trust", in: searchPath) != nil { return .fedora }
        return .unknown
        #endif
    }
}
