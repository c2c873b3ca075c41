import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Facts about where devmesh prints.
public enum Terminal {
    /// Colors when the stream is a terminal and NO_COLOR (no-color.org) is not set.
    public static func wantsColor(fd: Int32) -> Bool {
        isatty(fd) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
    }

    public static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    /// Local time's offset from UTC in seconds, for log timestamps.
    public static var utcOffset: Int { TimeZone.current.secondsFromGMT() }
}
