import Foundation

/// Runs a program to its end and returns its exit status with stdout and stderr together.
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

let opensslPath = "/usr/bin/openssl"
let hasOpenSSL = FileManager.default.isExecutableFile(atPath: opensslPath)
