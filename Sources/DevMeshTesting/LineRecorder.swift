import DevMeshCore

/// A `LogSink` that keeps every line, for tests that wait for what devmesh or an app said.
public final class LineRecorder: LogSink, Sendable {
    public let lines = Observed<LogLine>()

    public init() {}

    public func append(_ line: LogLine) {
        lines.append(line)
    }

    public var texts: [String] { lines.items.map(\.text) }

    public func index(where predicate: (LogLine) -> Bool) -> Int? {
        lines.items.firstIndex(where: predicate)
    }

    public func wait(timeout: Duration = .seconds(30), for predicate: @escaping @Sendable (LogLine) -> Bool) async -> LogLine? {
        await lines.first(timeout: timeout, where: predicate)
    }

    /// The first line whose text starts with `prefix`.
    public func wait(forPrefix prefix: String, timeout: Duration = .seconds(30)) async -> LogLine? {
        await wait(timeout: timeout) { $0.text.hasPrefix(prefix) }
    }

    public func waitForText(_ fragment: String, timeout: Duration = .seconds(30)) async -> LogLine? {
        await wait(timeout: timeout) { $0.text.contains(fragment) }
    }
}
