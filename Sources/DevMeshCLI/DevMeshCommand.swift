import ArgumentParser
import DevMeshApp

/// `devmesh`: the root command.
public struct DevMeshCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "devmesh",
        abstract: "A service mesh and API gateway for your laptop: run a stack, see every request.",
        version: "\(BuildInfo.version) (\(BuildInfo.commit))",
        subcommands: [
            UpCommand.self, DownCommand.self, StatusCommand.self, RestartCommand.self, StopCommand.self,
            StartCommand.self, CheckCommand.self, LogsCommand.self, TracesCommand.self, TraceCommand.self, RequestsCommand.self, ReplayCommand.self,
            PolicyCommand.self, CacheCommand.self, ExternalCommand.self, UICommand.self, CACommand.self, VersionCommand.self,
        ])

    public init() {}
}

/// `-f FILE`, shared by every stack command.
struct StackOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "A Procfile or devmesh.yaml; its folder is the stack's root.")
    var file: String?
}

extension DevMeshCommand {
    /// The process entry point: parses arguments and runs the (async) subcommand.
    public static func start() async {
        await main(nil)
    }
}
