import ArgumentParser
import DevMeshApp
import Foundation

struct UICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui", abstract: "Print the running stack's web UI URL (signed in: it may restart, stop and start services) and open it in a browser where one is available.")

    @OptionGroup var stack: StackOptions

    @Argument(help: "A page to open: traces, logs, map, requests, policies, gateway, or a trace id.")
    var page: String?

    @Flag(name: .customLong("no-open"), help: "Only print the URL.")
    var noOpen = false

    func run() async throws {
        let client: AdminClient
        do {
            client = try CommandSupport.client(stack)
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        guard let path = UIPage.path(page) else {
            throw ValidationError("unknown page `\(page ?? "")`; use traces, logs, map, requests, policies, gateway, or a trace id (8–32 hex digits)")
        }
        // The token in the address sets the UI's cookie once and leaves the address bar; without
        // it the UI only looks (docs/web-ui.md, "Security").
        let url = client.state.adminURL + path + "?token=" + client.state.token
        print(url)
        if !noOpen, let opener = UIPage.browserOpener() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: opener)
            process.arguments = [url]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            // A browser that will not start is not an error: the URL is printed.
            try? process.run()
        }
    }
}

/// Where `devmesh ui PAGE` points, and how this machine opens a URL.
enum UIPage {
    static func path(_ page: String?) -> String? {
        guard let page, !page.isEmpty else { return "/" }
        switch page.lowercased() {
        case "overview": return "/"
        case "traces", "logs", "map", "requests", "policies", "gateway": return "/" + page.lowercased()
        default:
            guard (8...32).contains(page.count), page.allSatisfy(\.isHexDigit) else { return nil }
            return "/traces/" + page.lowercased()
        }
    }

    /// `open` on macOS; `xdg-open` on Linux with a graphical session. None on a headless machine
    /// (over SSH the URL is what the user needs).
    static func browserOpener(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        #if os(macOS)
        return "/usr/bin/open"
        #else
        guard environment["DISPLAY"] != nil || environment["WAYLAND_DISPLAY"] != nil else { return nil }
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return path.map { $0 + "/xdg-open" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        #endif
    }
}
