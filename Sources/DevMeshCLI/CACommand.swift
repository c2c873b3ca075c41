import ArgumentParser
import DevMeshTLS
import Foundation

/// `devmesh ca`: the local certificate authority shared by all stacks of the user.
struct CACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "The local certificate authority: its path, details, trust stores and environment.",
        discussion: """
            devmesh creates its CA on first use in $DEVMESH_HOME/ca (default ~/.local/share/devmesh/ca); \
            every stack of the user shares it. See docs/ca.md.
            """,
        subcommands: [CAPathCommand.self, CAShowCommand.self, CAInstallCommand.self, CAUninstallCommand.self, CAEnvCommand.self])
}

/// `--root`, for `install`, `uninstall` and `show`: hidden, for tests and packaging.
struct CATrustOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Treat this folder as / for the system trust store (tests, packaging).", visibility: .hidden))
    var root: String = "/"

    var absoluteRoot: String {
        root.hasPrefix("/") ? root : CommandSupport.workingDirectory + "/" + root
    }
}

/// What the `ca` subcommands share: finding the CA, and the trust stores of this machine.
enum CASupport {
    /// `$DEVMESH_HOME` (or its default), made absolute.
    static var home: String {
        let home = DevMeshHome.resolve(environment: CommandSupport.environment)
        return home.hasPrefix("/") ? home : CommandSupport.workingDirectory + "/" + home
    }

    static var caDirectory: String { DevMeshHome.caDirectory(home: home) }

    /// The CA, created on first use.
    static func authority() throws -> CertificateAuthority {
        try CertificateAuthority.loadOrCreate(directory: caDirectory)
    }

    /// The trust stores below `root`. A store this user may not change names the command that
    /// repeats this one as root: with this CA folder (sudo resets `HOME`) and this executable
    /// (sudo resets `PATH`).
    static func trustStore(_ options: CATrustOptions) -> TrustStore {
        let root = options.absoluteRoot
        let home = self.home
        let executable = Bundle.main.executablePath ?? "devmesh"
        let context = TrustStoreContext.current(root: root, environment: CommandSupport.environment) { action in
            ShellQuote.command(["sudo", "DEVMESH_HOME=" + home, executable, "ca", action] + (root == "/" ? [] : ["--root", root]))
        }
        return TrustStore(context: context)
    }
}
