/// `external.<name>` — an ambassador before a service outside the stack (docs/externals.md).
public struct ExternalConfig: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable, CaseIterable, Codable {
        /// Every call goes to the real service.
        case live
        /// Every call goes to the real service and is recorded.
        case record
        /// Calls are answered from recordings only; a miss is a 502 naming the closest recordings.
        case replay
        /// Answered from recordings when one matches, else from the real service (and recorded).
        case replayOrLive = "replay-or-live"
    }

    /// `match` — what a recording must share with a call to answer it, besides method, path and query.
    public struct Match: Sendable, Equatable {
        /// `headers` — request header names whose values must be equal (case-insensitive names).
        public var headers: [String] = []
        /// `body` — JSON body fields (dotted paths, `a.b`) whose values must be equal.
        public var body: [String] = []

        public init(headers: [String] = [], body: [String] = []) {
            self.headers = headers
            self.body = body
        }
    }

    /// `circuit_breaker` — when calls stop being tried.
    public struct Breaker: Sendable, Equatable {
        /// `failures` — consecutive failed calls (connect/TLS errors, timeouts, 5xx) that open the breaker.
        public var failures = 5
        /// `open_for` — how long an open breaker refuses calls before one probe is let through.
        public var openFor: Duration = .seconds(30)

        public init(failures: Int = 5, openFor: Duration = .seconds(30)) {
            self.failures = failures
            self.openFor = openFor
        }
    }

    public var name: String
    public var location: SourceLocation?
    /// `url` — the real service's base URL.
    public var url: String
    public var urlLocation: SourceLocation?
    /// `ca` — a PEM file of extra roots to trust for this external (relative to the stack's root).
    public var ca: String?
    public var caLocation: SourceLocation?
    /// `headers` — injected on every call; values may use `${VAR}`.
    public var headers: [EnvVar]
    /// `timeout` — one attempt, from sending the request to the end of the answer.
    public var timeout: Duration
    /// `retries` — extra attempts for idempotent requests that failed before an answer, or got 502/503/504.
    public var retries: Int
    /// `mode` (default live).
    public var mode: Mode
    public var match: Match
    public var breaker: Breaker

    public static let defaultTimeout: Duration = .seconds(10)
    public static let defaultRetries = 2

    public init(name: String, location: SourceLocation? = nil, url: String, headers: [EnvVar] = [], mode: Mode = .live,
                ca: String? = nil, timeout: Duration = ExternalConfig.defaultTimeout, retries: Int = ExternalConfig.defaultRetries,
                match: Match = Match(), breaker: Breaker = Breaker()) {
        self.name = name
        self.location = location
        self.url = url
        self.headers = headers
        self.mode = mode
        self.ca = ca
        self.timeout = timeout
        self.retries = retries
        self.match = match
        self.breaker = breaker
    }

    /// The policy workload and span service of this external's ambassador (PRODUCT.md).
    public var workload: String { "external-" + name }

    /// `url` taken apart; nil when it is not a usable http(s) URL.
    public var base: ExternalURL? { ExternalURL(url) }
}

/// An external's base URL: scheme, host, port and the path its egress `/` maps to.
public struct ExternalURL: Sendable, Equatable {
    public var isTLS: Bool
    public var host: String
    public var port: Int
    /// Without a trailing `/` (empty for the root).
    public var path: String

    public init?(_ text: String) {
        let rest: Substring
        if text.hasPrefix("https://") {
            isTLS = true
            rest = text.dropFirst(8)
        } else if text.hasPrefix("http://") {
            isTLS = false
            rest = text.dropFirst(7)
        } else {
            return nil
        }
        guard !rest.contains("?"), !rest.contains("#"), !rest.contains("@") else { return nil }
        let authority = rest.prefix { $0 != "/" }
        var p = String(rest.dropFirst(authority.count))
        while p.hasSuffix("/") { p.removeLast() }
        path = p
        var hostPart = Substring(authority)
        var portValue = isTLS ? 443 : 80
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { return nil }
            let after = hostPart[hostPart.index(after: close)...]
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let n = Int(after.dropFirst()), (1...65535).contains(n) else { return nil }
                portValue = n
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            guard let n = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(n) else { return nil }
            portValue = n
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty, hostPart.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" }) else {
            return nil
        }
        host = hostPart.lowercased()
        port = portValue
    }

    /// `host` or `host:port` when the port is not the scheme's default (the `Host` field).
    public var authority: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == (isTLS ? 443 : 80) ? h : "\(h):\(port)"
    }

    /// The external's URL for a request target of the egress (`/x?y` → base path + `/x?y`).
    public func url(for target: String) -> String {
        let t = target.hasPrefix("/") ? target : "/" + target
        return (isTLS ? "https://" : "http://") + authority + path + t
    }
}
