import Foundation

/// The NSS databases Chrome/Chromium and Firefox read on Linux, changed with `certutil`
/// (Debian package `libnss3-tools`). Only SQL databases (`cert9.db`) are used, as every current
/// browser writes them.
struct NSSTrustStore {
    let context: TrustStoreContext

    static let store = "nss"
    /// Trusted to issue server certificates only: `C,,` (SSL, e-mail, code signing).
    static let trustFlags = "C,,"

    /// The databases of this user: `~/.pki/nssdb` (Chrome), the snap Chromium's, and every
    /// Firefox profile (also the snap Firefox's) that has a `cert9.db`.
    static func databases(home: String?) -> [String] {
        guard let home else { return [] }
        let fm = FileManager.default
        var candidates = [home + "/.pki/nssdb", home + "/snap/chromium/current/.pki/nssdb"]
        for profiles in [home + "/.mozilla/firefox", home + "/snap/firefox/common/.mozilla/firefox"] {
            let names = (try? fm.contentsOfDirectory(atPath: profiles)) ?? []
            candidates += names.sorted().map { profiles + "/" + $0 }
        }
        return candidates.filter { fm.fileExists(atPath: $0 + "/cert9.db") }
    }

    var certutil: String? { context.executable("certutil") }

    static let installHint = "install it (Debian/Ubuntu: `sudo apt-get install libnss3-tools`, Fedora: `sudo dnf install nss-tools`)"

    // MARK: operations

    func install(_ anchor: TrustAnchor) -> [TrustStoreOutcome] {
        each(anchor, action: "install") { certutil, db in
            if isListed(anchor, in: db, certutil: certutil) {
                return outcome(db, .alreadyInstalled, "already trusted as \"\(anchor.nssNickname)\"")
            }
            let run = ToolRun.run(
                certutil, ["-A", "-d", "sql:" + db, "-t", Self.trustFlags, "-n", anchor.nssNickname, "-i", anchor.certificatePath],
                environment: context.environment)
            guard run.succeeded else { return outcome(db, .failed, "certutil -A exited with \(run.status):\n\(run.tail)") }
            return outcome(db, .installed, "added as \"\(anchor.nssNickname)\"")
        }
    }

    func uninstall(_ anchor: TrustAnchor) -> [TrustStoreOutcome] {
        each(anchor, action: "uninstall") { certutil, db in
            guard isListed(anchor, in: db, certutil: certutil) else {
                return outcome(db, .notInstalled, "not installed")
            }
            // A nickname may have been added more than once; each -D deletes one.
            var deletions = 0
            while isListed(anchor, in: db, certutil: certutil) {
                deletions += 1
                guard deletions <= 8 else { return outcome(db, .failed, "still listed after 8 deletions") }
                let run = ToolRun.run(certutil, ["-D", "-d", "sql:" + db, "-n", anchor.nssNickname], environment: context.environment)
                guard run.succeeded else { return outcome(db, .failed, "certutil -D exited with \(run.status):\n\(run.tail)") }
            }
            return outcome(db, .removed, "removed \"\(anchor.nssNickname)\"")
        }
    }

    func status(_ anchor: TrustAnchor) -> [TrustStoreStatus] {
        let databases = Self.databases(home: context.home)
        if databases.isEmpty {
            return [TrustStoreStatus(
                store: Self.store, location: (context.home ?? "~") + "/.pki/nssdb", trusted: nil,
                detail: "no NSS database (Chrome, Firefox) found for this user")]
        }
        return databases.map { db in
            guard let certutil else {
                return TrustStoreStatus(store: Self.store, location: db, trusted: nil, detail: "certutil not found: \(Self.installHint)")
            }
            let listed = isListed(anchor, in: db, certutil: certutil)
            return TrustStoreStatus(
                store: Self.store, location: db, trusted: listed,
                detail: listed ? "\"\(anchor.nssNickname)\"" : "not installed (`devmesh ca install` adds it)")
        }
    }

    // MARK: helpers

    /// Runs `body` for each database, or says why there is nothing to run it on.
    private func each(_ anchor: TrustAnchor, action: String, _ body: (String, String) -> TrustStoreOutcome) -> [TrustStoreOutcome] {
        let databases = Self.databases(home: context.home)
        if databases.isEmpty {
            return [outcome(
                (context.home ?? "~") + "/.pki/nssdb", .notFound,
                "no NSS database (Chrome, Firefox) found for this user: nothing to do")]
        }
        guard let certutil else {
            return [outcome(
                databases.joined(separator: ", "), .needsTool,
                "certutil not found, so Chrome/Firefox were left alone: \(Self.installHint), then run `devmesh ca \(action)` again")]
        }
        return databases.map { body(certutil, $0) }
    }

    private func isListed(_ anchor: TrustAnchor, in db: String, certutil: String) -> Bool {
        ToolRun.run(certutil, ["-L", "-d", "sql:" + db, "-n", anchor.nssNickname], environment: context.environment).succeeded
    }

    private func outcome(_ db: String, _ result: TrustStoreOutcome.Result, _ message: String) -> TrustStoreOutcome {
        TrustStoreOutcome(store: Self.store, location: db, result: result, message: message)
    }
}
