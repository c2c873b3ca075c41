/// `external.<name>` — an ambassador before a service outside the stack.
public struct ExternalConfig: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        case live
        case record
        case replay
        case replayOrLive = "replay-or-live"
    }

    public var name: String
    public var location: SourceLocation?
    /// `url` — the real service's base URL.
    public var url: String
    /// `headers` — injected on every call; values may use `${VAR}`.
    public var headers: [EnvVar]
    /// `mode` (default live).
    public var mode: Mode

    public init(name: String, location: SourceLocation? = nil, url: String, headers: [EnvVar] = [], mode: Mode = .live) {
        self.name = name
        self.location = location
        self.url = url
        self.headers = headers
        self.mode = mode
    }
}
