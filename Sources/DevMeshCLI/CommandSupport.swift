import DevMeshApp
import DevMeshCore
import Foundation

enum CommandSupport {
    static var workingDirectory: String { FileManager.default.currentDirectoryPath }
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static func client(_ options: StackOptions) throws -> AdminClient {
        try AdminClient.connect(root: StackLocator.root(file: options.file, workingDirectory: workingDirectory))
    }

    /// Prints a failure the way every command does, and returns exit code 1.
    static func fail(_ error: any Error) -> Int32 {
        Terminal.printError("devmesh: \(error)")
        return 1
    }
}
