import DevMeshTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `devmesh ca …` through the built binary, with a temporary DEVMESH_HOME and HOME and a scratch
/// root for the system trust store: the machine's own stores and home are never touched.
@Suite(.timeLimit(.minutes(2))) struct CACommandTests {
    /// A temporary user: DEVMESH_HOME, HOME (no browser databases) and a Debian-like root.
    struct Scratch {
        let folder: String
        var devmeshHome: String { folder + "/devmesh-home" }
        var root: String { folder + "/root" }
        var caPath: String { devmeshHome + "/ca/ca.pem" }
        var installedPath: String { root + "/usr/local/share/ca-certificates/devmesh-local-ca.crt" }

        init() throws {
            folder = (NSTemporaryDirectory() as NSString).appendingPathComponent("devmesh-ca-it-" + UUID().uuidString)
            for dir in ["/home", "/root/etc/ssl/certs", "/root/usr/share/ca-certificates", "/root/usr/local/share/ca-certificates"] {
                try FileManager.default.createDirectory(atPath: folder + dir, withIntermediateDirectories: true)
            }
            // One "distribution" CA (another devmesh CA will do), so the bundle is never empty.
            let other = try DevMeshBinary.run(["ca", "path"], in: folder, environment: ["DEVMESH_HOME": folder + "/system-ca"])
            try FileManager.default.createDirectory(atPath: root + "/usr/share/ca-certificates/system", withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                atPath: other.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                toPath: root + "/usr/share/ca-certificates/system/system-ca.crt")
            try "system/system-ca.crt\n".write(toFile: root + "/etc/ca-certificates.conf", atomically: true, encoding: .utf8)
        }

        var environment: [String: String] { ["DEVMESH_HOME": devmeshHome, "HOME": folder + "/home", "XDG_DATA_HOME": ""] }

        func run(_ arguments: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
            try DevMeshBinary.run(arguments, in: folder, environment: environment)
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }

    @Test func pathCreatesTheCAOnceWithAPrivateKey() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let first = try scratch.run(["ca", "path"])
        #expect(first.code == 0, "\(first.stderr)")
        #expect(first.stdout == scratch.caPath + "\n")
        let pem = try String(contentsOfFile: scratch.caPath, encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN CERTIFICATE-----"))
        let keyMode = try FileManager.default.attributesOfItem(atPath: scratch.devmeshHome + "/ca/ca-key.pem")[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        let second = try scratch.run(["ca", "path"])
        #expect(second.stdout == first.stdout)
        #expect(try String(contentsOfFile: scratch.caPath, encoding: .utf8) == pem, "the CA is created once, then reused")
    }

    @Test func envPrintsQuotedExportsAndWritesTheBundle() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let env = try scratch.run(["ca", "env"])
        #expect(env.code == 0, "\(env.stderr)")
        let bundle = scratch.devmeshHome + "/ca/bundle.pem"
        #expect(env.stdout == """
            export SSL_CERT_FILE=\(bundle)
            export REQUESTS_CA_BUNDLE=\(bundle)
            export CURL_CA_BUNDLE=\(bundle)
            export NODE_EXTRA_CA_CERTS=\(scratch.caPath)

            """)
        let text = try String(contentsOfFile: bundle, encoding: .utf8)
        let ca = try String(contentsOfFile: scratch.caPath, encoding: .utf8)
        #expect(text.contains(ca.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(text.components(separatedBy: "-----BEGIN CERTIFICATE-----").count > 2, "system CAs plus the devmesh CA, never it alone")

        let json = try scratch.run(["ca", "env", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: String]
        #expect(object == ["SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle, "NODE_EXTRA_CA_CERTS": scratch.caPath])
    }

    @Test func showInstallAndUninstallAgainstAScratchRoot() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let before = try showJSON(scratch)
        #expect(before["keyMode"] as? String == "0600")
        #expect(before["certificatePath"] as? String == scratch.caPath)
        #expect(before["keyPath"] as? String == scratch.devmeshHome + "/ca/ca-key.pem")
        let fingerprint = try #require(before["fingerprintSHA256"] as? String)
        #expect(fingerprint.count == 95, "32 hex pairs joined by ':'")
        #expect((before["subject"] as? String)?.contains("devmesh") == true)
        #expect(before["notBefore"] is String && before["notAfter"] is String)
        #expect(systemTrust(before)?["trusted"] as? Bool == false)

        let install = try scratch.run(["ca", "install", "--root", scratch.root])
        #expect(install.code == 0, "\(install.stdout)\(install.stderr)")
        #expect(install.stdout.contains("system (\(scratch.installedPath)): installed"))
        #expect(install.stdout.contains("nss ("), "the NSS outcome is reported too")
        #expect(FileManager.default.fileExists(atPath: scratch.installedPath))
        let bundle = try String(contentsOfFile: scratch.root + "/etc/ssl/certs/ca-certificates.crt", encoding: .utf8)
        #expect(bundle.contains(try String(contentsOfFile: scratch.caPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(systemTrust(try showJSON(scratch))?["trusted"] as? Bool == true)

        let text = try scratch.run(["ca", "show", "--root", scratch.root])
        #expect(text.code == 0)
        #expect(text.stdout.contains("SHA-256      \(fingerprint)"))
        #expect(text.stdout.contains("(mode 0600)"))
        #expect(text.stdout.contains("system  trusted: \(scratch.installedPath)"))

        let uninstall = try scratch.run(["ca", "uninstall", "--root", scratch.root])
        #expect(uninstall.code == 0, "\(uninstall.stdout)\(uninstall.stderr)")
        #expect(uninstall.stdout.contains("system (\(scratch.installedPath)): removed"))
        #expect(!FileManager.default.fileExists(atPath: scratch.installedPath))
        #expect(systemTrust(try showJSON(scratch))?["trusted"] as? Bool == false)
    }

    @Test func failuresSayWhatWhereAndHowToFix() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try FileManager.default.removeItem(atPath: scratch.root + "/etc/ssl")
        let install = try scratch.run(["ca", "install", "--root", scratch.root])
        #expect(install.code == 1)
        #expect(install.stderr.contains("etc/ssl/certs does not exist"))
        #expect(install.stderr.contains("apt-get install ca-certificates"))
        #expect(install.stderr.contains("the CA is not trusted by every store yet"))

        // DEVMESH_HOME is a file: the CA cannot be created there.
        #expect(FileManager.default.createFile(atPath: scratch.folder + "/a-file", contents: Data()))
        let path = try DevMeshBinary.run(["ca", "path"], in: scratch.folder, environment: ["DEVMESH_HOME": scratch.folder + "/a-file"])
        #expect(path.code == 1)
        #expect(path.stdout.isEmpty)
        #expect(path.stderr.hasPrefix("devmesh: "))
        #expect(path.stderr.contains(scratch.folder + "/a-file"))
    }

    /// A user who may not write the system store gets the exact commands and a store left as it
    /// was. Tests run as root, whom no folder mode stops, so the CLI runs as `nobody` (setpriv);
    /// a non-root test run is such a user already.
    @Test func aUserWithoutPrivilegesGetsTheCommandsAndNothingChanges() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let userHome = scratch.folder + "/nobody"
        try FileManager.default.createDirectory(atPath: userHome, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        let environment = ["DEVMESH_HOME": userHome + "/devmesh", "HOME": userHome, "XDG_DATA_HOME": ""]
        let arguments = ["ca", "install", "--root", scratch.root]
        let install: (code: Int32, stdout: String, stderr: String)
        if getuid() == 0 {
            let setpriv = try #require(
                ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) },
                "setpriv (util-linux) is needed to run the CLI as another user")
            install = try Self.run(
                setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", DevMeshBinary.path] + arguments,
                in: userHome, environment: environment)
        } else {
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: scratch.root + "/usr/local/share/ca-certificates")
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.root + "/usr/local/share/ca-certificates") }
            install = try DevMeshBinary.run(arguments, in: userHome, environment: environment)
        }
        #expect(install.code == 1)
        #expect(install.stderr.contains("needs-privileges — this user may not change the system trust store"), "\(install.stderr)")
        #expect(install.stderr.contains("sudo DEVMESH_HOME=\(userHome)/devmesh \(DevMeshBinary.path) ca install --root \(scratch.root)"))
        #expect(install.stderr.contains("sudo install -m 0644 \(userHome)/devmesh/ca/ca.pem \(scratch.installedPath)"))
        #expect(install.stderr.contains("update-ca-certificates"))
        #expect(!FileManager.default.fileExists(atPath: scratch.installedPath))
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/etc/ssl/certs/ca-certificates.crt"))
    }

    /// Runs `executable` (short output: both pipes are read after it exits writing).
    private static func run(_ executable: String, _ arguments: [String], in directory: String, environment: [String: String]) throws -> (code: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, b in b }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    private func showJSON(_ scratch: Scratch) throws -> [String: Any] {
        let show = try scratch.run(["ca", "show", "--json", "--root", scratch.root])
        #expect(show.code == 0, "\(show.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
    }

    private func systemTrust(_ document: [String: Any]) -> [String: Any]? {
        (document["trust"] as? [[String: Any]])?.first { $0["store"] as? String == "system" }
    }
}
