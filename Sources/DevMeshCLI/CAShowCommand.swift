import ArgumentParser
import DevMeshTLS
import Foundation

/// `devmesh ca show`: what the CA is, where its files are, and which trust stores hold it.
struct CAShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show the CA: subject, SHA-256 fingerprint, validity, files, and trust per store.")

    @OptionGroup var trust: CATrustOptions

    @Flag(help: "One JSON document, stable for scripts.")
    var json = false

    func run() throws {
        let report: CAReport
        do {
            let ca = try CASupport.authority()
            report = CAReport(ca, trust: CASupport.trustStore(trust).status(TrustAnchor(ca)))
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
        }
    }
}

/// The `ca show` document: `subject`, `fingerprintSHA256`, `notBefore`, `notAfter` (ISO 8601),
/// `certificatePath`, `keyPath`, `keyMode` (octal, "0600"), `trust[].{store, location, trusted, detail}`.
struct CAReport: Encodable {
    let subject: String
    let fingerprintSHA256: String
    let notBefore: String
    let notAfter: String
    let certificatePath: String
    let keyPath: String
    let keyMode: String
    let trust: [TrustStoreStatus]

    init(_ ca: CertificateAuthority, trust: [TrustStoreStatus]) {
        let time = ISO8601DateFormatter()
        subject = ca.subjectSummary
        fingerprintSHA256 = ca.fingerprintSHA256
        notBefore = time.string(from: ca.certificate.notValidBefore)
        notAfter = time.string(from: ca.notAfter)
        certificatePath = ca.certificatePath
        keyPath = ca.keyPath
        let mode = (try? FileManager.default.attributesOfItem(atPath: ca.keyPath)[.posixPermissions] as? Int) ?? nil
        keyMode = mode.map { String(format: "%04o", $0) } ?? "unknown"
        self.trust = trust
    }

    var text: String {
        var lines = [
            "devmesh local CA",
            "  subject      \(subject)",
            "  SHA-256      \(fingerprintSHA256)",
            "  valid        \(notBefore) to \(notAfter)",
            "  certificate  \(certificatePath)",
            "  key          \(keyPath) (mode \(keyMode)\(keyMode == "0600" ? "" : ", should be 0600"))",
            "trust",
        ]
        let width = trust.map(\.store.count).max() ?? 0
        for status in trust {
            let verdict = status.trusted.map { $0 ? "trusted" : "not trusted" } ?? "unknown"
            lines.append("  \(status.store.padding(toLength: width, withPad: " ", startingAt: 0))  \(verdict): \(status.location) — \(status.detail)")
        }
        return lines.joined(separator: "\n")
    }
}
