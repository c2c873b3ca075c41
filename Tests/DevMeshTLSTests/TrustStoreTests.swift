import DevMeshTLS
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The system store (Debian's `update-ca-certificates`) against a scratch root: the real tool
/// runs, but only ever on files below the scratch folder.
@Suite struct TrustStoreSystemTests {
    @Test func installAndUninstallStayInsideTheScratchRoot() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        let realInstalledBefore = FileManager.default.fileExists(atPath: "/usr/local/share/ca-certificates/devmesh-local-ca.crt")
        let store = TrustStore(context: try machine.context())

        let installed = store.install(machine.anchor)
        #expect(installed.first?.result == .installed, "\(installed)")
        #expect(installed.allSatisfy { $0.isComplete })
        let mode = try FileManager.default.attributesOfItem(atPath: machine.installedPath)[.posixPermissions] as? Int
        #expect(mode == 0o644)
        #expect(try String(contentsOfFile: machine.installedPath, encoding: .utf8) == machine.ca.certificatePEM.trimmingCharacters(in: .whitespacesAndNewlines) + "\n")
        #expect(machine.bundle.contains(machine.ca.certificatePEM.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(machine.bundle.contains(machine.systemCA.certificatePEM.trimmingCharacters(in: .whitespacesAndNewlines)))
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: machine.root + "/etc/ssl/certs/devmesh-local-ca.pem")
        #expect(link == machine.installedPath)
        #expect(store.status(machine.anchor).first?.trusted == true)

        #expect(store.install(machine.anchor).first?.result == .alreadyInstalled)

        let removed = store.uninstall(machine.anchor)
        #expect(removed.first?.result == .removed, "\(removed)")
        #expect(!FileManager.default.fileExists(atPath: machine.installedPath))
        #expect(!machine.bundle.contains(machine.ca.certificatePEM.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(machine.bundle.contains(machine.systemCA.certificatePEM.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(!FileManager.default.fileExists(atPath: machine.root + "/etc/ssl/certs/devmesh-local-ca.pem"))
        #expect(store.status(machine.anchor).first?.trusted == false)
        #expect(store.uninstall(machine.anchor).first?.result == .notInstalled)

        #expect(FileManager.default.fileExists(atPath: "/usr/local/share/ca-certificates/devmesh-local-ca.crt") == realInstalledBefore)
    }

    /// Tests run as root, who may write anywhere (a read-only folder does not stop root), so the
    /// "may this user write here" check is injected.
    @Test func missingPrivilegesChangeNothingAndSayWhatToRun() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        let locked = TrustStore(context: try machine.context(isWritable: { _ in false }))

        let refused = locked.install(machine.anchor)
        let system = try #require(refused.first)
        #expect(system.result == .needsPrivileges)
        #expect(!system.isComplete)
        #expect(system.message.contains("sudo devmesh ca install"))
        #expect(system.message.contains("sudo install -m 0644 \(machine.ca.certificatePath) \(machine.installedPath)"))
        #expect(system.message.contains("update-ca-certificates"))
        #expect(system.message.contains("nothing was changed"))
        #expect(!FileManager.default.fileExists(atPath: machine.installedPath))
        #expect(!FileManager.default.fileExists(atPath: machine.bundlePath))

        // Installed by someone who may; then a user who may not cannot take it out half-way.
        #expect(TrustStore(context: try machine.context()).install(machine.anchor).first?.result == .installed)
        let bundleBefore = machine.bundle
        let refusedRemoval = try #require(locked.uninstall(machine.anchor).first)
        #expect(refusedRemoval.result == .needsPrivileges)
        #expect(refusedRemoval.message.contains("sudo devmesh ca uninstall"))
        #expect(refusedRemoval.message.contains("sudo rm -f \(machine.installedPath)"))
        #expect(FileManager.default.fileExists(atPath: machine.installedPath))
        #expect(machine.bundle == bundleBefore)
    }

    @Test func aFailingToolLeavesTheStoreAsItWas() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        let store = TrustStore(context: try machine.context(tool: "/bin/false"))
        let outcome = try #require(store.install(machine.anchor).first)
        #expect(outcome.result == .failed)
        #expect(outcome.message.contains("left as it was"))
        #expect(!FileManager.default.fileExists(atPath: machine.installedPath))
    }

    @Test func aRootWithoutTheSystemCertsSaysWhatIsMissing() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        try FileManager.default.removeItem(atPath: machine.root + "/etc/ssl")
        let outcome = try #require(TrustStore(context: try machine.context()).install(machine.anchor).first)
        #expect(outcome.result == .failed)
        #expect(outcome.message.contains("etc/ssl/certs does not exist"))
        #expect(outcome.message.contains("apt-get install ca-certificates"))
        #expect(!FileManager.default.fileExists(atPath: machine.installedPath))
    }

    @Test func fedoraAndMacOSGetTheExactCommands() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        let path = machine.ca.certificatePath
        let fedora = TrustStore(context: TrustStoreContext(home: machine.home, searchPath: [], platform: .fedora))
        let fedoraInstall = try #require(fedora.install(machine.anchor).first)
        #expect(fedoraInstall.result == .manual)
        #expect(fedoraInstall.message.contains("sudo cp \(path) /etc/pki/ca-trust/source/anchors/devmesh-local-ca.pem\n  sudo update-ca-trust"))
        #expect(try #require(fedora.uninstall(machine.anchor).first).message.contains(
            "sudo rm -f /etc/pki/ca-trust/source/anchors/devmesh-local-ca.pem\n  sudo update-ca-trust"))

        let mac = TrustStore(context: TrustStoreContext(home: machine.home, searchPath: [], platform: .macOS))
        #expect(try #require(mac.install(machine.anchor).first).message.contains(
            "sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain \(path)"))
        let macRemove = try #require(mac.uninstall(machine.anchor).first).message
        #expect(macRemove.contains("sudo security remove-trusted-cert -d \(path)"))
        #expect(macRemove.contains("delete-certificate -Z " + machine.ca.fingerprintSHA256.replacingOccurrences(of: ":", with: "")))
        #expect(mac.status(machine.anchor).first?.trusted == nil)
    }

    @Test func writabilityLooksAtTheNearestExistingFolder() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        #expect(TrustStoreContext.kernelSaysWritable(machine.root + "/not/yet/there"))
        if getuid() != 0 {
            // Only a non-root user is stopped by the mode bits.
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: machine.root + "/etc")
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: machine.root + "/etc") }
            #expect(!TrustStoreContext.kernelSaysWritable(machine.root + "/etc/new"))
        }
    }

    @Test func shellQuotingKeepsPathsOneWord() {
        #expect(ShellQuote.quote("/home/ana/.local/share/devmesh/ca/ca.pem") == "/home/ana/.local/share/devmesh/ca/ca.pem")
        #expect(ShellQuote.quote("/Users/Ana Maria/ca.pem") == "'/Users/Ana Maria/ca.pem'")
        #expect(ShellQuote.quote("it's") == "'it'\\''s'")
        #expect(ShellQuote.quote("") == "''")
        #expect(ShellQuote.command(["sudo", "rm", "-f", "a b"]) == "sudo rm -f 'a b'")
    }
}

/// The NSS databases of Chrome and Firefox, with the real `certutil` on scratch databases.
@Suite struct TrustStoreNSSTests {
    @Test func nssRoundTripInChromeAndFirefoxDatabases() throws {
        guard let certutil = ScratchTrustMachine.requireCertutil() else { return }
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        let chrome = try machine.makeNSSDatabase(".pki/nssdb", certutil: certutil)
        let firefox = try machine.makeNSSDatabase(".mozilla/firefox/abcd1234.default-release", certutil: certutil)
        try FileManager.default.createDirectory(atPath: machine.home + "/.mozilla/firefox/Crash Reports", withIntermediateDirectories: true)
        let store = TrustStore(context: try machine.context())
        let nickname = machine.anchor.nssNickname
        #expect(nickname.hasPrefix("devmesh local CA "))
        #expect(nickname.count == "devmesh local CA ".count + 16)

        let installed = store.install(machine.anchor).filter { $0.store == "nss" }
        #expect(installed.map(\.location) == [chrome, firefox])
        #expect(installed.allSatisfy { $0.result == .installed }, "\(installed)")
        for db in [chrome, firefox] {
            let listed = try run(certutil, ["-L", "-d", "sql:" + db])
            #expect(listed.output.contains(nickname))
            #expect(listed.output.contains("C,,"))
        }
        #expect(store.status(machine.anchor).filter { $0.store == "nss" }.map(\.trusted) == [true, true])
        #expect(store.install(machine.anchor).filter { $0.store == "nss" }.allSatisfy { $0.result == .alreadyInstalled })

        let removed = store.uninstall(machine.anchor).filter { $0.store == "nss" }
        #expect(removed.allSatisfy { $0.result == .removed }, "\(removed)")
        for db in [chrome, firefox] {
            #expect(try !run(certutil, ["-L", "-d", "sql:" + db]).output.contains(nickname))
        }
        #expect(store.status(machine.anchor).filter { $0.store == "nss" }.map(\.trusted) == [false, false])
        #expect(store.uninstall(machine.anchor).filter { $0.store == "nss" }.allSatisfy { $0.result == .notInstalled })
    }

    @Test func withoutCertutilTheBrowsersAreNamedAndTheSystemStoreStillChanges() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        // A database is there (a file is enough to be found); certutil is not on the search path.
        try FileManager.default.createDirectory(atPath: machine.home + "/.pki/nssdb", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: machine.home + "/.pki/nssdb/cert9.db", contents: Data()))
        let store = TrustStore(context: try machine.context(searchPath: [machine.folder + "/no-tools"]))
        let outcomes = store.install(machine.anchor)
        #expect(outcomes.count == 2)
        #expect(outcomes[0].result == .installed, "\(outcomes)")
        #expect(outcomes[1].result == .needsTool)
        #expect(outcomes[1].message.contains("apt-get install libnss3-tools"))
        #expect(outcomes[1].location == machine.home + "/.pki/nssdb")
        #expect(store.status(machine.anchor)[1].trusted == nil)
    }

    @Test func noBrowserDatabaseIsNothingToDo() throws {
        let machine = try ScratchTrustMachine()
        defer { machine.remove() }
        let nss = TrustStore(context: try machine.context()).install(machine.anchor).filter { $0.store == "nss" }
        #expect(nss.map(\.result) == [.notFound])
        #expect(nss.allSatisfy { $0.isComplete })
    }
}
