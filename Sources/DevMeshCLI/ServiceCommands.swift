import ArgumentParser
import DevMeshApp
import DevMeshCore

/// `restart`, `stop` and `start` differ only in the command they send.
protocol ServiceControlCommand: AsyncParsableCommand {
    static var command: ServiceCommand { get }
    var stack: StackOptions { get }
    var services: [String] { get }
}

extension ServiceControlCommand {
    func run() async throws {
        do {
            let client = try CommandSupport.client(stack)
            for service in services {
                try await client.perform(Self.command, service: service)
                print("\(Self.command.rawValue): \(service)")
            }
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
    }
}

struct RestartCommand: ServiceControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart", abstract: "Restart a service's replicas (also revives a crash-looped one).")
    static let command = ServiceCommand.restart
    @OptionGroup var stack: StackOptions
    @Argument(help: "Services to restart.") var services: [String]
}

struct StopCommand: ServiceControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop a service's replicas; they stay stopped until `devmesh start`.")
    static let command = ServiceCommand.stop
    @OptionGroup var stack: StackOptions
    @Argument(help: "Services to stop.") var services: [String]
}

struct StartCommand: ServiceControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Start a stopped service's replicas.")
    static let command = ServiceCommand.start
    @OptionGroup var stack: StackOptions
    @Argument(help: "Services to start.") var services: [String]
}
