import ArgumentParser
import DevMeshApp
import DevMeshTLS

/// `devmesh ca install` and `devmesh ca uninstall` differ only in the direction.
protocol CATrustCommand: ParsableCommand {
    var trust: CATrustOptions { get }
    static var install: Bool { get }
}

extension CATrustCommand {
    func run() throws {
        let outcomes: [TrustStoreOutcome]
        do {
            let ca = try CASupport.authority()
            print("devmesh local CA \(ca.fingerprintSHA256) (\(ca.certificatePath))")
            let store = CASupport.trustStore(trust)
            outcomes = Self.install ? store.install(TrustAnchor(ca)) : store.uninstall(TrustAnchor(ca))
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        for outcome in outcomes {
            let text = CATrustOutcomeText.render(outcome)
            if outcome.isComplete { print(text) } else { Terminal.printError(text) }
        }
        if outcomes.contains(where: { !$0.isComplete }) {
            Terminal.printError(
                Self.install
                    ? "devmesh: the CA is not trusted by every store yet: see above"
                    : "devmesh: the CA is not removed from every store yet: see above")
            throw ExitCode(1)
        }
    }
}

/// One outcome for a person: `store (location): result — message`, later lines indented.
enum CATrustOutcomeText {
    static func render(_ outcome: TrustStoreOutcome) -> String {
        let lines = outcome.message.split(separator: "\n", omittingEmptySubsequences: false)
        let head = "\(outcome.store) (\(outcome.location)): \(outcome.result.rawValue) — \(lines.first ?? "")"
        return ([head] + lines.dropFirst().map { "  " + $0 }).joined(separator: "\n")
    }
}

struct CAInstallCommand: CATrustCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Trust the CA system-wide (Debian/Ubuntu; commands for Fedora and macOS) and in Chrome/Firefox (NSS).",
        discussion: "Exits 1 unless every trust store found now trusts the CA; each store's outcome says what to do.")
    static let install = true
    @OptionGroup var trust: CATrustOptions
}

struct CAUninstallCommand: CATrustCommand {
    static let configuration = CommandConfiguration(
        commandName: "uninstall", abstract: "Remove the CA from the system trust store and from Chrome/Firefox (NSS).",
        discussion: "Exits 1 unless the CA is gone from every trust store found.")
    static let install = false
    @OptionGroup var trust: CATrustOptions
}
