import Crypto
import DevMeshTLS
import Dispatch
import Foundation
import NIOConcurrencyHelpers
import Testing
import X509

@Suite("Certificate authority on disk")
struct CertificateAuthorityTests {
    /// A CA folder resolved the way devmesh does, from a temporary DEVMESH_HOME.
    private static func caDirectory(in temp: TemporaryDirectory) -> String {
        DevMeshHome.caDirectory(home: DevMeshHome.resolve(environment: ["DEVMESH_HOME": temp.path + "/home"]))
    }

    @Test("first use creates a P-256 root with the right modes and extensions")
    func createsOnFirstUse() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let directory = Self.caDirectory(in: temp)

        let ca = try CertificateAuthority.loadOrCreate(directory: directory)

        #expect(ca.certificatePath == directory + "/ca.pem")
        #expect(ca.keyPath == directory + "/ca-key.pem")
        #expect(permissionBits(directory) == 0o700)
        #expect(permissionBits(ca.keyPath) == 0o600)
        #expect(permissionBits(ca.certificatePath) == 0o644)
        // No temporary files are left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["ca-key.pem", "ca.lock", "ca.pem"])

        let certificate = ca.certificate
        #expect(P256.Signing.PublicKey(certificate.publicKey) != nil)
        #expect(certificate.issuer == certificate.subject)
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        #expect(ca.subjectSummary.hasPrefix("CN=devmesh local CA ("))
        #expect(ca.subjectSummary.hasSuffix("),O=devmesh"))
        let tenYears: TimeInterval = 10 * 365 * 24 * 3600
        #expect(abs(certificate.notValidAfter.timeIntervalSinceNow - tenYears) < 3600)
        #expect(ca.notAfter == certificate.notValidAfter)

        let extensions = certificate.extensions
        #expect(try extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(extensions[oid: .X509ExtensionID.basicConstraints]?.critical == true)
        #expect(try extensions.keyUsage == KeyUsage(keyCertSign: true, cRLSign: true))
        #expect(extensions[oid: .X509ExtensionID.keyUsage]?.critical == true)
        #expect(try extensions.subjectKeyIdentifier == SubjectKeyIdentifier(hash: certificate.publicKey))

        // The PEM property is the file's content.
        let onDisk = try String(contentsOfFile: ca.certificatePath, encoding: .utf8)
        #expect(onDisk == ca.certificatePEM)
        #expect(try Certificate(pemEncoded: ca.certificatePEM) == certificate)
    }

    @Test("a second loadOrCreate loads the same CA")
    func reloadsSameCA() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let directory = Self.caDirectory(in: temp)
        let first = try CertificateAuthority.loadOrCreate(directory: directory)
        let second = try CertificateAuthority.loadOrCreate(directory: directory)
        #expect(first.fingerprintSHA256 == second.fingerprintSHA256)
        #expect(first.certificate == second.certificate)
        // The loaded key signs leaves that chain to the same root.
        let leaf = try second.issueServer(hosts: ["localhost"])
        #expect(leaf.leaf.issuer == first.certificate.subject)
        #expect(first.certificate.publicKey.isValidSignature(leaf.leaf.signature, for: leaf.leaf))
    }

    @Test("the fingerprint is what openssl prints", .enabled(if: hasOpenSSL))
    func fingerprintMatchesOpenSSL() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let ca = try CertificateAuthority.loadOrCreate(directory: Self.caDirectory(in: temp))
        let result = try run(opensslPath, ["x509", "-in", ca.certificatePath, "-noout", "-fingerprint", "-sha256"])
        #expect(result.status == 0)
        // "sha256 Fingerprint=AB:CD:..." (the prefix's case differs between OpenSSL versions)
        let printed = result.output.split(separator: "=", maxSplits: 1).last.map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(printed == ca.fingerprintSHA256)
        #expect(ca.fingerprintSHA256.count == 32 * 3 - 1)
    }

    @Test("openssl agrees the root is a CA and a leaf chains to it", .enabled(if: hasOpenSSL))
    func opensslVerifiesChain() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let ca = try CertificateAuthority.loadOrCreate(directory: Self.caDirectory(in: temp))
        let leafPath = temp.path + "/leaf.pem"
        let leaf = try ca.issueServer(hosts: ["users.localhost"])
        try leaf.leaf.serializeAsPEM().pemString.write(toFile: leafPath, atomically: true, encoding: .utf8)
        let verified = try run(
            opensslPath, ["verify", "-CAfile", ca.certificatePath, "-purpose", "sslserver", "-verify_hostname",
                          "users.localhost", leafPath])
        #expect(verified.status == 0, "\(verified.output)")
        let wrongHost = try run(
            opensslPath, ["verify", "-CAfile", ca.certificatePath, "-verify_hostname", "orders.localhost", leafPath])
        #expect(wrongHost.status != 0)
    }

    @Test("a key readable by others is refused with the chmod to run")
    func refusesOpenKey() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let directory = Self.caDirectory(in: temp)
        let ca = try CertificateAuthority.loadOrCreate(directory: directory)
        #expect(chmod(ca.keyPath, 0o644) == 0)

        let error = #expect(throws: CertificateAuthorityError.self) {
            try CertificateAuthority.loadOrCreate(directory: directory)
        }
        #expect(error == .keyFileTooOpen(path: ca.keyPath, mode: 0o644))
        #expect(error?.description.contains("chmod 600 '\(ca.keyPath)'") == true)

        // Group-readable alone is enough to refuse; 0600 and 0400 are fine.
        #expect(chmod(ca.keyPath, 0o640) == 0)
        #expect(throws: CertificateAuthorityError.keyFileTooOpen(path: ca.keyPath, mode: 0o640)) {
            try CertificateAuthority.loadOrCreate(directory: directory)
        }
        #expect(chmod(ca.keyPath, 0o400) == 0)
        #expect(try CertificateAuthority.loadOrCreate(directory: directory).fingerprintSHA256 == ca.fingerprintSHA256)
    }

    @Test("a corrupt key file gives an error naming it and the way out")
    func corruptKey() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let directory = Self.caDirectory(in: temp)
        let ca = try CertificateAuthority.loadOrCreate(directory: directory)
        try overwrite(ca.keyPath, with: "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")

        let error = #expect(throws: CertificateAuthorityError.self) {
            try CertificateAuthority.loadOrCreate(directory: directory)
        }
        #expect(error == .corruptKey(path: ca.keyPath, directory: directory))
        let message = error?.description ?? ""
        #expect(message.contains(ca.keyPath))
        #expect(message.contains("delete the folder \(directory)"))
        #expect(message.contains("devmesh ca install"))
    }

    @Test("a corrupt certificate, a foreign key, or a missing file are named")
    func otherBrokenStates() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let directory = Self.caDirectory(in: temp)
        let ca = try CertificateAuthority.loadOrCreate(directory: directory)
        let goodKey = try String(contentsOfFile: ca.keyPath, encoding: .utf8)
        let goodCertificate = ca.certificatePEM

        try overwrite(ca.certificatePath, with: "garbage")
        #expect(throws: CertificateAuthorityError.corruptCertificate(
            path: ca.certificatePath, directory: directory, detail: "not a PEM-encoded X.509 certificate")) {
            try CertificateAuthority.loadOrCreate(directory: directory)
        }

        try overwrite(ca.certificatePath, with: goodCertificate)
        try overwrite(ca.keyPath, with: P256.Signing.PrivateKey().pemRepresentation)
        #expect(throws: CertificateAuthorityError.keyMismatch(
            certificatePath: ca.certificatePath, keyPath: ca.keyPath, directory: directory)) {
            try CertificateAuthority.loadOrCreate(directory: directory)
        }

        try overwrite(ca.keyPath, with: goodKey)
        #expect(unlink(ca.certificatePath) == 0)
        #expect(throws: CertificateAuthorityError.incomplete(
            missing: ca.certificatePath, present: ca.keyPath, directory: directory)) {
            try CertificateAuthority.loadOrCreate(directory: directory)
        }
        // The key was not replaced by the failed attempt.
        #expect(try String(contentsOfFile: ca.keyPath, encoding: .utf8) == goodKey)
    }

    @Test("concurrent first use by many threads ends with one CA")
    func concurrentFirstUse() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let directory = Self.caDirectory(in: temp)
        let results = NIOLockedValueBox<[Result<String, any Error>]>([])

        // Real threads (not tasks), as two processes would be, released together by one gate:
        // flock must hold them apart (without it, the losers' link(2) fails with EEXIST).
        let gate = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for _ in 0..<8 {
            done.enter()
            Thread.detachNewThread {
                gate.wait()
                let result = Result { try CertificateAuthority.loadOrCreate(directory: directory).fingerprintSHA256 }
                results.withLockedValue { $0.append(result) }
                done.leave()
            }
        }
        for _ in 0..<8 { gate.signal() }
        #expect(done.wait(timeout: .now() + 60) == .success)

        let fingerprints = try results.withLockedValue { try $0.map { try $0.get() } }
        #expect(fingerprints.count == 8)
        #expect(Set(fingerprints).count == 1)
        let onDisk = try CertificateAuthority.loadOrCreate(directory: directory)
        #expect(fingerprints.first == onDisk.fingerprintSHA256)
    }

    /// Rewrites a file in place, keeping its mode (the key stays 0600).
    private func overwrite(_ path: String, with text: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }
}
