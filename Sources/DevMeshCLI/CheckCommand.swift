import ArgumentParser
import DevMeshApp

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate the Procfile / devmesh.yaml; exit 1 with diagnostics on errors.")

    @OptionGroup var stack: StackOptions

    @Flag(help: "Diagnostics as one JSON document.")
    var json = false

    func run() async throws {
        let code = await ConfigCheck.run(file: stack.file, workingDirectory: CommandSupport.workingDirectory,
                                   environment: CommandSupport.environment, json: json)
        if code != 0 { throw ExitCode(code) }
    }
}
