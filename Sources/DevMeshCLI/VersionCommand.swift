import ArgumentParser
import DevMeshApp

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version and the git commit it was built from.")

    func run() {
        print("devmesh \(BuildInfo.version) (commit \(BuildInfo.commit))")
    }
}
