/// The only way the config loader touches files, so the loader stays testable as plain values.
public protocol FileReading: Sendable {
    /// The file's text, or `nil` when it does not exist or cannot be read.
    func readText(atPath path: String) -> String?
}

/// An in-memory file set, for tests and for tools that already hold the files.
public struct InMemoryFiles: FileReading {
    public var files: [String: String]
    public init(_ files: [String: String]) { self.files = files }
    public func readText(atPath path: String) -> String? { files[path] }
}

/// Small path helpers (POSIX, `/`-separated) so Core needs no file-system API.
public enum Path {
    public static func join(_ base: String, _ rest: String) -> String {
        if rest.hasPrefix("/") { return rest }
        if base.isEmpty || base == "." { return rest }
        return base.hasSuffix("/") ? base + rest : base + "/" + rest
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func lastComponent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `path` relative to `base` when it lies below it, for short names in messages.
    public static func display(_ path: String, relativeTo base: String) -> String {
        if path == base { return "." }
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}
