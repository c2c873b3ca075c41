import DevMeshCore
import Foundation

/// Finds the stack a command is about: `-f FILE`'s folder, or the nearest folder upward from the
/// current one that has `.devmesh/` (or, failing that, a Procfile or devmesh.yaml).
public enum StackLocator {
    public static func root(file: String?, workingDirectory: String) -> String {
        if let file {
            return Path.directory(of: Path.join(workingDirectory, file))
        }
        // The nearest folder that is a stack, whichever sign it shows: a running or past stack's
        // `.devmesh/`, or a config file. `up` and every other command agree on it.
        let fm = FileManager.default
        var dir = workingDirectory
        while true {
            for marker in [StateDirectory.folderName, ConfigLoader.procfileName, ConfigLoader.yamlName]
            where fm.fileExists(atPath: Path.join(dir, marker)) {
                return dir
            }
            let parent = Path.directory(of: dir)
            if parent == dir || dir == "/" { return workingDirectory }
            dir = parent
        }
    }
}
