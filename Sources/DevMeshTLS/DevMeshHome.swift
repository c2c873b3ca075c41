/// Where devmesh keeps what all stacks of one user share (the local CA, the redaction key).
///
/// Resolved from the environment only, so `devmesh ca path`, the gateway and the tests agree on
/// one folder and a test can point it at a temporary folder with `DEVMESH_HOME`.
public enum DevMeshHome {
    /// `$DEVMESH_HOME`, else `$XDG_DATA_HOME/devmesh`, else `$HOME/.local/share/devmesh`.
    ///
    /// Empty values count as unset and a relative `XDG_DATA_HOME` is ignored, as the XDG Base
    /// Directory spec requires. Without `HOME` the path is relative to the working directory
    /// (`.local/share/devmesh`), which is visible in `devmesh ca path` rather than a guess.
    public static func resolve(environment: [String: String]) -> String {
        if let home = environment["DEVMESH_HOME"], !home.isEmpty {
            return home
        }
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
            return join(data, "devmesh")
        }
        guard let userHome = environment["HOME"], !userHome.isEmpty else {
            return ".local/share/devmesh"
        }
        return join(userHome, ".local/share/devmesh")
    }

    /// `<home>/ca`: the CA's certificate, key and lock file.
    public static func caDirectory(home: String) -> String {
        join(home, "ca")
    }

    private static func join(_ base: String, _ child: String) -> String {
        base.hasSuffix("/") ? base + child : base + "/" + child
    }
}
