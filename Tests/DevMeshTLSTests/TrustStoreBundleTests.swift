import DevMeshTLS
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `<DEVMESH_HOME>/ca/bundle.pem` and the trust variables (PRODUCT.md: never the devmesh CA alone).
@Suite struct TrustStoreBundleTests {
    @Test func theBundleIsTheSystemCAsPlusTheDevmeshCAAndWrittenOnlyOnChange() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        let system = machine.root + "/system-bundle.crt"
        try machine.systemCA.certificatePEM.write(toFile: system, atomically: true, encoding: .utf8)
        let bundlePath = CABundle.path(caDirectory: machine.folder + "/devmesh-home/ca")
        #expect(bundlePath.hasSuffix("/devmesh-home/ca/bundle.pem"))
        let candidates = [machine.folder + "/missing.crt", system]

        #expect(try CABundle.update(ca: machine.ca, bundlePath: bundlePath, systemBundles: candidates))
        let text = try String(contentsOfFile: bundlePath, encoding: .utf8)
        #expect(text.hasPrefix(machine.systemCA.certificatePEM))
        #expect(text.hasSuffix(machine.ca.certificatePEM.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"))
        #expect(try FileManager.default.attributesOfItem(atPath: bundlePath)[.posixPermissions] as? Int == 0o644)

        // Unchanged content: the file (its inode) stays as it is.
        let inode = Self.inode(bundlePath)
        #expect(inode != nil)
        #expect(try !CABundle.update(ca: machine.ca, bundlePath: bundlePath, systemBundles: candidates))
        #expect(Self.inode(bundlePath) == inode)

        // The system's CAs changed: the bundle follows.
        try (machine.systemCA.certificatePEM + "\n# another\n").write(toFile: system, atomically: true, encoding: .utf8)
        #expect(try CABundle.update(ca: machine.ca, bundlePath: bundlePath, systemBundles: candidates))
        #expect(try String(contentsOfFile: bundlePath, encoding: .utf8).contains("# another\n"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: machine.folder + "/devmesh-home/ca").filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test func aSystemBundleThatAlreadyTrustsTheCAIsNotDoubled() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        let system = machine.systemCA.certificatePEM + "\n" + machine.ca.certificatePEM + "\n"
        #expect(CABundle.content(system: system, caPEM: machine.ca.certificatePEM) == system)
        let joined = CABundle.content(system: "X", caPEM: machine.ca.certificatePEM)
        #expect(joined == "X\n# devmesh local CA\n" + machine.ca.certificatePEM.trimmingCharacters(in: .whitespacesAndNewlines) + "\n")
    }

    @Test func neverTheDevmeshCAAlone() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        let bundlePath = machine.folder + "/bundle.pem"
        #expect(throws: TrustStoreError.noSystemBundle(candidates: [machine.folder + "/missing.crt"])) {
            try CABundle.update(ca: machine.ca, bundlePath: bundlePath, systemBundles: [machine.folder + "/missing.crt"])
        }
        #expect(!FileManager.default.fileExists(atPath: bundlePath))
        #expect(CABundle.systemBundleCandidates.first == "/etc/ssl/certs/ca-certificates.crt")
    }

    @Test func trustEnvironmentNamesTheBundleAndTheCA() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        let variables = CABundle.trustEnvironment(ca: machine.ca, bundlePath: "/b/bundle.pem")
        #expect(variables.map(\.0) == ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"])
        #expect(variables.map(\.1) == ["/b/bundle.pem", "/b/bundle.pem", "/b/bundle.pem", machine.ca.certificatePath])
    }

    static func inode(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }
}
