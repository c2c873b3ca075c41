/// One line an app (or devmesh itself) wrote.
public struct LogLine: Sendable, Equatable, Codable {
    public enum Stream: String, Sendable, Codable {
        case stdout
        case stderr
        /// devmesh's own messages about the stack.
        case devmesh
        /// One line per proxied request (`up --access-log`).
        case access
    }

    /// Replica instance id `<service>.<n>`, or `devmesh`.
    public var instance: String
    public var service: String
    public var stream: Stream
    /// Seconds since the Unix epoch, when devmesh read the line.
    public var timestamp: Double
    public var text: String
    /// Severity of devmesh's own messages (`nil` for app output).
    public var severity: Diagnostic.Severity?

    public init(instance: String, service: String, stream: Stream, timestamp: Double, text: String, severity: Diagnostic.Severity? = nil) {
        self.instance = instance
        self.service = service
        self.stream = stream
        self.timestamp = timestamp
        self.text = text
        self.severity = severity
    }
}

/// Where log lines go besides the terminal (the SQLite store, later). Must not block: implementations
/// buffer, and drop (counting) when full.
public protocol LogSink: Sendable {
    func append(_ line: LogLine)
}

/// Fans one line out to several sinks.
public struct LogSinks: LogSink {
    public var sinks: [any LogSink]
    public init(_ sinks: [any LogSink]) { self.sinks = sinks }
    public func append(_ line: LogLine) {
        for sink in sinks { sink.append(line) }
    }
}
