import Foundation

/// The system store of Debian and Ubuntu: a `.crt` file in `/usr/local/share/ca-certificates`
/// and `update-ca-certificates`, which rebuilds `/etc/ssl/certs` and its bundle
/// `ca-certificates.crt`. Every path is taken below the context's root, and the tool is told so
/// (`--certsconf`, `--certsdir`, `--localcertsdir`, `--etccertsdir`, `--hooksdir`), so a test's
/// scratch root is all it touches.
struct DebianTrustStore {
    let tool: String
    let context: TrustStoreContext

    static let store = "system"

    var localCertsDirectory: String { context.underRoot("/usr/local/share/ca-certificates") }
    var certsDirectory: String { context.underRoot("/usr/share/ca-certificates") }
    var etcCertsDirectory: String { context.underRoot("/etc/ssl/certs") }
    var certsConf: String { context.underRoot("/etc/ca-certificates.conf") }
    var hooksDirectory: String { context.underRoot("/etc/ca-certificates/update.d") }
    /// Where the CA goes: the tool only reads `*.crt` files there.
    var installedPath: String { localCertsDirectory + "/" + TrustAnchor.systemFileName + ".crt" }
    /// The bundle the tool writes; OpenSSL, curl and most runtimes read it.
    var bundlePath: String { etcCertsDirectory + "/ca-certificates.crt" }

    func toolArguments(fresh: Bool) -> [String] {
        (fresh ? ["--fresh"] : []) + [
            "--certsconf", certsConf, "--certsdir", certsDirectory, "--localcertsdir", localCertsDirectory,
            "--etccertsdir", etcCertsDirectory, "--hooksdir", hooksDirectory,
        ]
    }

    // MARK: status

    func status(_ anchor: TrustAnchor) -> TrustStoreStatus {
        let file = TrustFiles.text(installedPath)
        let inBundle = TrustFiles.text(bundlePath).map(anchor.isContained) ?? false
        let (trusted, detail): (Bool, String) =
            switch (file.map(anchor.isContained), inBundle) {
            case (true?, true): (true, "in \(installedPath) and \(bundlePath)")
            case (true?, false): (false, "\(installedPath) is there but \(bundlePath) lacks it: run `devmesh ca install` again")
            case (false?, _): (false, "\(installedPath) holds another CA (an older devmesh CA?): run `devmesh ca install`")
            case (nil, true): (true, "in \(bundlePath), but \(installedPath) is gone: the next update-ca-certificates drops it")
            case (nil, false): (false, "not installed (`devmesh ca install` adds it)")
            }
        return TrustStoreStatus(store: Self.store, location: installedPath, trusted: trusted, detail: detail)
    }

    // MARK: install

    func install(_ anchor: TrustAnchor) -> TrustStoreOutcome {
        let previous = TrustFiles.text(installedPath)
        if previous.map(anchor.isContained) == true, TrustFiles.text(bundlePath).map(anchor.isContained) == true {
            return outcome(.alreadyInstalled, "already trusted: \(installedPath), in \(bundlePath)")
        }
        if let problem = precondition(anchor, action: "install") { return problem }
        do {
            try FileManager.default.createDirectory(
                atPath: localCertsDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            try TrustFiles.writeAtomically(anchor.pemBlock + "\n", to: installedPath, mode: 0o644)
        } catch {
            return outcome(.failed, "could not write \(installedPath): \(error)")
        }
        let run = ToolRun.run(tool, toolArguments(fresh: false), environment: context.environment)
        let bundled = TrustFiles.text(bundlePath).map(anchor.isContained) ?? false
        if run.succeeded && bundled {
            return outcome(.installed, "added \(installedPath); update-ca-certificates rebuilt \(bundlePath)")
        }
        // Nothing half-done: put the old file back and let the tool rebuild from it.
        restore(previous)
        let why = run.succeeded ? "it did not add the CA to \(bundlePath)" : "it exited with \(run.status):\n\(run.tail)"
        return outcome(.failed, "update-ca-certificates failed, so the store was left as it was: \(why)")
    }

    // MARK: uninstall

    func uninstall(_ anchor: TrustAnchor) -> TrustStoreOutcome {
        let previous = TrustFiles.text(installedPath)
        let bundled = TrustFiles.text(bundlePath).map(anchor.isContained) ?? false
        if previous == nil && !bundled {
            return outcome(.notInstalled, "not installed: no \(installedPath)")
        }
        if let problem = precondition(anchor, action: "uninstall") { return problem }
        if previous != nil {
            do {
                try FileManager.default.removeItem(atPath: installedPath)
            } catch {
                return outcome(.failed, "could not remove \(installedPath): \(error)")
            }
        }
        // --fresh: without it the tool keeps the link to a removed local certificate, and with it
        // the certificate in the bundle.
        let run = ToolRun.run(tool, toolArguments(fresh: true), environment: context.environment)
        let stillBundled = TrustFiles.text(bundlePath).map(anchor.isContained) ?? false
        if run.succeeded && !stillBundled {
            return outcome(.removed, "removed \(installedPath); update-ca-certificates rebuilt \(bundlePath)")
        }
        restore(previous)
        let why = run.succeeded ? "\(bundlePath) still holds the CA (the tool leaves the bundle alone when no other CA is left)" : "it exited with \(run.status):\n\(run.tail)"
        return outcome(.failed, "update-ca-certificates failed, so the store was left as it was: \(why)")
    }

    // MARK: helpers

    /// Refuses before changing anything: a store the tool cannot work in, or that this user may not change.
    private func precondition(_ anchor: TrustAnchor, action: String) -> TrustStoreOutcome? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: etcCertsDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return outcome(.failed, "\(etcCertsDirectory) does not exist: install the system CAs first (`sudo apt-get install ca-certificates`)")
        }
        let locked = [localCertsDirectory, etcCertsDirectory].filter { !context.isWritable($0) }
        guard locked.isEmpty else {
            return outcome(.needsPrivileges, privilegeMessage(anchor, action: action, locked: locked))
        }
        return nil
    }

    private func privilegeMessage(_ anchor: TrustAnchor, action: String, locked: [String]) -> String {
        let manual: [String] =
            action == "install"
            ? [ShellQuote.command(["sudo", "install", "-m", "0644", anchor.certificatePath, installedPath]),
               ShellQuote.command(["sudo", tool] + (context.root == "/" ? [] : toolArguments(fresh: false)))]
            : [ShellQuote.command(["sudo", "rm", "-f", installedPath]),
               ShellQuote.command(["sudo", tool] + (context.root == "/" ? ["--fresh"] : toolArguments(fresh: true)))]
        return """
            this user may not change the system trust store (\(locked.joined(separator: ", ")) not writable); nothing was changed.
            Run it as root:
              \(context.privilegedCommand(action))
            or by hand:
            \(manual.map { "  " + $0 }.joined(separator: "\n"))
            """
    }

    /// Puts `previous` back (or removes the file when there was none) and rebuilds the links.
    private func restore(_ previous: String?) {
        if let previous {
            try? TrustFiles.writeAtomically(previous, to: installedPath, mode: 0o644)
        } else {
            try? FileManager.default.removeItem(atPath: installedPath)
        }
        _ = ToolRun.run(tool, toolArguments(fresh: true), environment: context.environment)
    }

    private func outcome(_ result: TrustStoreOutcome.Result, _ message: String) -> TrustStoreOutcome {
        TrustStoreOutcome(store: Self.store, location: installedPath, result: result, message: message)
    }
}
