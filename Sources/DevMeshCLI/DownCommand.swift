import ArgumentParser
import DevMeshApp
import DevMeshSupervisor
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down", abstract: "Stop the stack running from this folder and wait until it has stopped.")

    @OptionGroup var stack: StackOptions

    @Option(help: "Seconds to wait for the stack to stop.")
    var timeout: Int = 60

    func run() async throws {
        let root = StackLocator.root(file: stack.file, workingDirectory: CommandSupport.workingDirectory)
        let directory = StateDirectory(root: root)
        let client: AdminClient
        do {
            client = try AdminClient.connect(root: root)
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        do {
            try await client.shutdown()
        } catch {
            // The API is gone but the process holds the lock: ask it the Unix way.
            Terminal.printError("devmesh: \(error); sending SIGTERM to pid \(client.state.pid)")
            if ProcessControl.startTime(of: client.state.pid) == client.state.pidStartTime {
                kill(client.state.pid, SIGTERM)
            }
        }
        let deadline = ContinuousClock.now + .seconds(timeout)
        while directory.isLocked() {
            if ContinuousClock.now > deadline {
                Terminal.printError("devmesh: the stack (pid \(client.state.pid)) is still stopping after \(timeout)s")
                throw ExitCode(1)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        print("stopped the stack in \(root)")
    }
}
