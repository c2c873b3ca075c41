import DevMeshCore
import Foundation

/// Finds the stack a command is about: `-f FILE`'s folder, or the nearest folder upward from the
/// current one that has `.devmesh/` (or, failing that, a Procfile or devmesh.yaml).
public enum StackLocator {
    public static func root(file: String?, workingDirectory: String) -> String {
        if let file {
            return Path.directory(of: Path.join(workingDirectory, file))
        }
        let fm = FileManager.default
        var dir = workingDirectory
        while true {
            if fm.fileExists(atPath: Path.join(dir, StateDirectory.folderName)) { return dir }
            let parent = Path.directory(of: dir)
            if parent == dir || dir == "/" { break }
            dir = parent
        }
        dir = workingDirectory
        while true {
            if fm.fileExists(atPath: Path.join(dir, ConfigLoader.procfileName)) || fm.fileExists(atPath: Path.join(dir, ConfigLoader.yamlName)) {
                return dir
            }
            let parent = Path.directory(of: dir)
            if parent == dir || dir == "/" { break }
            dir = parent
        }
        return workingDirectory
    }
}
