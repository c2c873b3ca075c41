import ArgumentParser
import DevMeshTLS
import Foundation

/// `devmesh ca env`: the variables that make OpenSSL, Python, curl and Node trust the CA, for
/// `eval "$(devmesh ca env)"`; the same ones every service of a stack gets.
struct CAEnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print `export` lines that make OpenSSL, Python, curl and Node trust the CA: eval \"$(devmesh ca env)\".",
        discussion: """
            SSL_CERT_FILE, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE name $DEVMESH_HOME/ca/bundle.pem, the system's \
            CAs plus the devmesh CA (written when it would change); NODE_EXTRA_CA_CERTS names the CA itself.
            """)

    @Flag(help: "One JSON object of the variables.")
    var json = false

    func run() throws {
        let variables: [(String, String)]
        do {
            let ca = try CASupport.authority()
            let bundlePath = CABundle.path(caDirectory: CASupport.caDirectory)
            try CABundle.update(ca: ca, bundlePath: bundlePath)
            variables = CABundle.trustEnvironment(ca: ca, bundlePath: bundlePath)
        } catch {
            throw ExitCode(CommandSupport.fail(error))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let object = Dictionary(variables, uniquingKeysWith: { _, last in last })
            print(String(decoding: try encoder.encode(object), as: UTF8.self))
        } else {
            for (name, value) in variables {
                print("export \(name)=\(ShellQuote.quote(value))")
            }
        }
    }
}
