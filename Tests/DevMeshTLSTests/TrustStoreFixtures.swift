import DevMeshTLS
import Foundation
import Testing

/// A scratch machine for trust-store tests: a root folder laid out as Debian's (`etc/ssl/certs`,
/// `etc/ca-certificates.conf`, `usr/share/ca-certificates` with one "system" CA), a HOME for NSS
/// databases, and a devmesh CA in its own DEVMESH_HOME. Nothing outside the folder is touched.
struct ScratchTrustMachine {
    let folder: String
    var root: String { folder + "/root" }
    var home: String { folder + "/home" }
    let ca: CertificateAuthority
    /// A second CA standing in for the distribution's CAs, so the bundle is never empty.
    let systemCA: CertificateAuthority

    init() throws {
        folder = try TemporaryDirectory().path
        let fm = FileManager.default
        ca = try CertificateAuthority.loadOrCreate(directory: folder + "/devmesh-home/ca")
        systemCA = try CertificateAuthority.loadOrCreate(directory: folder + "/system-ca")
        for dir in ["/root/etc/ssl/certs", "/root/usr/share/ca-certificates/system", "/root/usr/local/share/ca-certificates", "/home"] {
            try fm.createDirectory(atPath: folder + dir, withIntermediateDirectories: true)
        }
        try systemCA.certificatePEM.write(toFile: root + "/usr/share/ca-certificates/system/system-ca.crt", atomically: true, encoding: .utf8)
        try "system/system-ca.crt\n".write(toFile: root + "/etc/ca-certificates.conf", atomically: true, encoding: .utf8)
    }

    var anchor: TrustAnchor { TrustAnchor(ca) }
    var installedPath: String { root + "/usr/local/share/ca-certificates/devmesh-local-ca.crt" }
    var bundlePath: String { root + "/etc/ssl/certs/ca-certificates.crt" }
    var bundle: String { (try? String(contentsOfFile: bundlePath, encoding: .utf8)) ?? "" }

    /// PATH of this process plus the sbin folders, as the CLI searches.
    static var searchPath: [String] {
        TrustStoreContext.current(environment: ProcessInfo.processInfo.environment, privilegedCommand: { $0 }).searchPath
    }

    /// A context on the scratch root; the platform is Debian's with the real tool.
    func context(
        searchPath: [String] = ScratchTrustMachine.searchPath, tool: String? = nil,
        isWritable: @escaping @Sendable (String) -> Bool = TrustStoreContext.kernelSaysWritable
    ) throws -> TrustStoreContext {
        let tool = try #require(
            tool ?? TrustStoreContext(home: nil, searchPath: Self.searchPath).executable("update-ca-certificates"),
            "update-ca-certificates not found: install the Debian package ca-certificates")
        return TrustStoreContext(
            root: root, home: home, searchPath: searchPath, environment: ProcessInfo.processInfo.environment,
            platform: .debian(tool: tool), isWritable: isWritable)
    }

    /// `certutil`, or a recorded failure naming the package: the NSS tests never pass silently.
    static func requireCertutil() -> String? {
        if let path = TrustStoreContext(home: nil, searchPath: searchPath).executable("certutil") { return path }
        Issue.record("certutil not found: the NSS tests need the Debian package libnss3-tools (apt-get install -y libnss3-tools)")
        return nil
    }

    /// Makes an empty NSS database in `directory` (below HOME), as Chrome or Firefox would.
    func makeNSSDatabase(_ relative: String, certutil: String) throws -> String {
        let directory = home + "/" + relative
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let created = try run(certutil, ["-N", "--empty-password", "-d", "sql:" + directory])
        try #require(created.status == 0, "certutil -N failed: \(created.output)")
        return directory
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: folder)
    }
}
