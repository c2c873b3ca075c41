import CDevMeshShims

/// What `devmesh version` prints.
public enum BuildInfo {
    public static let version = "0.1.0"
    public static var commit: String { String(cString: cdevmesh_build_commit()) }
}
