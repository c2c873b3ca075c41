import Foundation

/// System stores devmesh does not change itself (Fedora/RHEL, macOS, anything else): it prints
/// the exact commands, and tells what it can about whether they were run.
struct ManualTrustStore {
    let platform: SystemTrustPlatform
    let context: TrustStoreContext

    static let store = "system"
    static let fedoraAnchors = "/etc/pki/ca-trust/source/anchors"
    static let macKeychain = "/Library/Keychains/System.keychain"

    var fedoraPath: String { Self.fedoraAnchors + "/" + TrustAnchor.systemFileName + ".pem" }

    var location: String {
        switch platform {
        case .fedora: fedoraPath
        case .macOS: Self.macKeychain
        case .debian, .unknown: "system trust store"
        }
    }

    /// The commands a person runs to add (`install`) or remove the CA.
    func commands(_ anchor: TrustAnchor, install: Bool) -> [String] {
        let path = anchor.certificatePath
        switch platform {
        case .fedora:
            return install
                ? [ShellQuote.command(["sudo", "cp", path, fedoraPath]), "sudo update-ca-trust"]
                : [ShellQuote.command(["sudo", "rm", "-f", fedoraPath]), "sudo update-ca-trust"]
        case .macOS:
            let hex = anchor.fingerprintSHA256.uppercased().filter { $0.isHexDigit }
            return install
                ? [ShellQuote.command(["sudo", "security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", Self.macKeychain, path])]
                : [ShellQuote.command(["sudo", "security", "remove-trusted-cert", "-d", path]),
                   ShellQuote.command(["sudo", "security", "delete-certificate", "-Z", hex, Self.macKeychain])]
        case .debian, .unknown:
            return []
        }
    }

    func outcome(_ anchor: TrustAnchor, install: Bool) -> TrustStoreOutcome {
        let verb = install ? "trust" : "stop trusting"
        let message: String
        switch platform {
        case .fedora, .macOS:
            let name = platform == .fedora ? "Fedora/RHEL (update-ca-trust)" : "macOS"
            message = "on \(name) devmesh does not change the system store itself; to \(verb) the CA run:\n"
                + commands(anchor, install: install).map { "  " + $0 }.joined(separator: "\n")
        case .debian, .unknown:
            message = "no known system trust store tool (update-ca-certificates, update-ca-trust) was found; "
                + "to \(verb) the CA, \(install ? "add" : "remove") \(anchor.certificatePath) "
                + "\(install ? "to" : "from") your system's trust store by hand"
        }
        return TrustStoreOutcome(store: Self.store, location: location, result: .manual, message: message)
    }

    func status(_ anchor: TrustAnchor) -> TrustStoreStatus {
        switch platform {
        case .fedora:
            let present = TrustFiles.text(fedoraPath).map(anchor.isContained) ?? false
            return TrustStoreStatus(
                store: Self.store, location: fedoraPath, trusted: present,
                detail: present ? "anchor file present (run `sudo update-ca-trust` if you have not)" : "not installed")
        case .macOS:
            return TrustStoreStatus(
                store: Self.store, location: Self.macKeychain, trusted: nil,
                detail: "devmesh does not read the keychain: see Keychain Access, System, Certificates")
        case .debian, .unknown:
            return TrustStoreStatus(store: Self.store, location: location, trusted: nil, detail: "no known system trust store tool")
        }
    }
}
