import Foundation

/// `<DEVMESH_HOME>/ca/bundle.pem`: the system's CAs plus the devmesh CA, for runtimes that take
/// one file of CAs in place of the system's (OpenSSL, Python requests, curl). Never the devmesh
/// CA alone: a service that calls a public HTTPS API must keep trusting the public CAs.
public enum CABundle {
    /// The system bundles, in the order they are looked for: Debian/Ubuntu, Fedora/RHEL, macOS/BSD.
    public static let systemBundleCandidates = [
        "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem",
    ]

    /// The bundle's path in the CA folder (`DevMeshHome.caDirectory(home:)`).
    public static func path(caDirectory: String) -> String {
        caDirectory + "/bundle.pem"
    }

    /// The first of `candidates` that exists.
    public static func systemBundle(candidates: [String] = systemBundleCandidates) -> String? {
        candidates.first { FileManager.default.isReadableFile(atPath: $0) }
    }

    /// The bundle's text: the system bundle, then the CA (unless the system bundle already holds
    /// it, as it does once `devmesh ca install` ran).
    public static func content(system: String, caPEM: String) -> String {
        let anchor = TrustAnchor(certificatePath: "", pem: caPEM, fingerprintSHA256: "")
        var text = system
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        if anchor.isContained(in: system) { return text }
        return text + "# devmesh local CA\n" + anchor.pemBlock + "\n"
    }

    /// Writes the bundle at `bundlePath` from the first system bundle found and `caPEM`; the file is
    /// replaced (atomically, mode 0644) only when its content would change.
    /// - Returns: whether the file was written.
    @discardableResult
    public static func update(caPEM: String, bundlePath: String, systemBundles: [String] = systemBundleCandidates) throws -> Bool {
        guard let systemPath = systemBundle(candidates: systemBundles), let system = TrustFiles.text(systemPath) else {
            throw TrustStoreError.noSystemBundle(candidates: systemBundles)
        }
        let wanted = content(system: system, caPEM: caPEM)
        if TrustFiles.text(bundlePath) == wanted { return false }
        try TrustFiles.writeAtomically(wanted, to: bundlePath, mode: 0o644)
        return true
    }

    /// ``update(caPEM:bundlePath:systemBundles:)`` for the devmesh CA.
    @discardableResult
    public static func update(ca: CertificateAuthority, bundlePath: String, systemBundles: [String] = systemBundleCandidates) throws -> Bool {
        try update(caPEM: ca.certificatePEM, bundlePath: bundlePath, systemBundles: systemBundles)
    }

    /// The variables that make runtimes trust the devmesh CA (PRODUCT.md): OpenSSL, Python
    /// requests and curl read the whole bundle; Node adds `NODE_EXTRA_CA_CERTS` to its own CAs.
    public static func trustEnvironment(ca: CertificateAuthority, bundlePath: String) -> [(String, String)] {
        trustEnvironment(caPath: ca.certificatePath, bundlePath: bundlePath)
    }

    /// ``trustEnvironment(ca:bundlePath:)`` from the CA's path.
    public static func trustEnvironment(caPath: String, bundlePath: String) -> [(String, String)] {
        [
            ("SSL_CERT_FILE", bundlePath),
            ("REQUESTS_CA_BUNDLE", bundlePath),
            ("CURL_CA_BUNDLE", bundlePath),
            ("NODE_EXTRA_CA_CERTS", caPath),
        ]
    }
}
