import ArgumentParser

/// `devmesh ca path`: the CA certificate's path and nothing else, for `curl --cacert "$(devmesh ca path)"`.
struct CAPathCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "path", abstract: "Print the path of the CA certificate (PEM), creating the CA on first use.")

    func run() throws {
        do {
            print(try CASupport.authority().certificatePath)
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
    }
}
