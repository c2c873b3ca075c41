import Crypto
import Foundation
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Loading and first-use creation

extension CertificateAuthority {
    /// How long a new root is valid.
    public static let rootValidity: TimeInterval = 10 * 365 * 24 * 3600

    /// Loads the CA in `directory`, creating it (and the folder, 0700) on first use.
    ///
    /// Blocking file I/O and, on first use, key generation: call it at startup or from a thread
    /// pool, never on an event loop. Two processes starting at once end up with the same CA:
    /// creation happens under an exclusive `flock` on `ca.lock`, and the files appear only when
    /// complete (`ca.pem` last), so whoever comes second loads what the first one wrote.
    public static func loadOrCreate(directory: String) throws -> CertificateAuthority {
        try loadOrCreate(directory: directory, now: Date(), owner: defaultOwner())
    }

    static func loadOrCreate(directory: String, now: Date, owner: String) throws -> CertificateAuthority {
        let paths = Paths(directory: directory)
        // Fast path without the lock: ca.pem is published last, so its presence means complete.
        if SecureFile.exists(paths.certificate) {
            return try load(paths, now: now)
        }
        try SecureFile.makeDirectories(directory, mode: 0o700)
        return try SecureFile.withExclusiveLock(paths.lock) {
            if SecureFile.exists(paths.certificate) {
                return try load(paths, now: now)
            }
            if SecureFile.exists(paths.key) {
                // A key without a certificate: an earlier creation died half-way, or a file was
                // deleted by hand. Never overwrite a key; say how to start over.
                throw CertificateAuthorityError.incomplete(missing: paths.certificate, present: paths.key, directory: directory)
            }
            return try create(paths, now: now, owner: owner)
        }
    }

    struct Paths {
        var directory: String
        var certificate: String { directory + "/" + CertificateAuthority.certificateFileName }
        var key: String { directory + "/" + CertificateAuthority.keyFileName }
        var lock: String { directory + "/" + CertificateAuthority.lockFileName }
    }

    private static func load(_ paths: Paths, now: Date) throws -> CertificateAuthority {
        guard let keyFile = try SecureFile.read(paths.key) else {
            throw CertificateAuthorityError.incomplete(missing: paths.key, present: paths.certificate, directory: paths.directory)
        }
        // Checked on the descriptor the key was read from, before the key is parsed or used.
        guard keyFile.mode & 0o077 == 0 else {
            throw CertificateAuthorityError.keyFileTooOpen(path: paths.key, mode: keyFile.mode)
        }
        guard let certificateFile = try SecureFile.read(paths.certificate) else {
            throw CertificateAuthorityError.incomplete(missing: paths.certificate, present: paths.key, directory: paths.directory)
        }
        let key: P256.Signing.PrivateKey
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: String(decoding: keyFile.bytes, as: UTF8.self))
        } catch {
            // The parser's error is deliberately dropped: it could quote bytes of the key.
            throw CertificateAuthorityError.corruptKey(path: paths.key, directory: paths.directory)
        }
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: String(decoding: certificateFile.bytes, as: UTF8.self))
        } catch {
            throw CertificateAuthorityError.corruptCertificate(
                path: paths.certificate, directory: paths.directory, detail: "not a PEM-encoded X.509 certificate")
        }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw CertificateAuthorityError.keyMismatch(
                certificatePath: paths.certificate, keyPath: paths.key, directory: paths.directory)
        }
        guard case .isCertificateAuthority = try? certificate.extensions.basicConstraints else {
            throw CertificateAuthorityError.corruptCertificate(
                path: paths.certificate, directory: paths.directory, detail: "not a CA certificate")
        }
        guard certificate.notValidAfter > now else {
            throw CertificateAuthorityError.expired(path: paths.certificate, directory: paths.directory)
        }
        return try CertificateAuthority(
            certificate: certificate, privateKey: key, certificatePath: paths.certificate, keyPath: paths.key)
    }

    private static func create(_ paths: Paths, now: Date, owner: String) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let certificate = try makeRoot(key: key, now: now, owner: owner)
        // Key first, certificate last: the certificate's presence is what marks the CA complete.
        try SecureFile.createExclusively(paths.key, bytes: Array(key.pemRepresentation.utf8), mode: 0o600)
        try SecureFile.createExclusively(
            paths.certificate, bytes: Array(certificate.serializeAsPEM().pemString.utf8), mode: 0o644)
        SecureFile.syncDirectory(paths.directory)
        return try CertificateAuthority(
            certificate: certificate, privateKey: key, certificatePath: paths.certificate, keyPath: paths.key)
    }

    // MARK: - The root certificate

    /// A self-signed root: CA with pathLen 0 (it signs leaves only), keyCertSign + cRLSign.
    static func makeRoot(key: P256.Signing.PrivateKey, now: Date, owner: String) throws -> Certificate {
        let publicKey = Certificate.PublicKey(key.publicKey)
        // CN is at most 64 characters (RFC 5280 ub-common-name); the owner part gets what is left.
        let commonName = "devmesh local CA (\(owner.prefix(64 - 19)))"
        let name = try DistinguishedName {
            OrganizationName("devmesh")
            CommonName(commonName)
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        return try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now - clockSkewAllowance,
            notValidAfter: now + rootValidity,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
    }

    /// `user@hostname`, so a CA in a trust store says whose it is.
    static func defaultOwner() -> String {
        let environment = ProcessInfo.processInfo.environment
        var user = environment["USER"] ?? environment["LOGNAME"] ?? ""
        if user.isEmpty, let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            user = String(cString: name)
        }
        var host = [UInt8](repeating: 0, count: 256)
        let named = host.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                chars.baseAddress.map { gethostname($0, chars.count - 1) == 0 } ?? false
            }
        }
        let hostname = named ? String(decoding: host.prefix { $0 != 0 }, as: UTF8.self) : "localhost"
        return "\(user.isEmpty ? "user" : user)@\(hostname)"
    }

    /// Backdating `notBefore` by this much keeps a peer whose clock is slightly behind from
    /// rejecting a certificate issued a moment ago.
    static let clockSkewAllowance: TimeInterval = 5 * 60
}

// MARK: - In-memory CAs for tests

extension CertificateAuthority {
    /// A CA that exists only in memory: a "foreign" CA for negative tests, or a fast fixture.
    @_spi(Testing)
    public static func ephemeral(owner: String = "test@devmesh", now: Date = Date()) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        return try CertificateAuthority(
            certificate: makeRoot(key: key, now: now, owner: owner), privateKey: key, certificatePath: "", keyPath: "")
    }
}
