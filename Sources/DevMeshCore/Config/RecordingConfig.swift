/// `recording:` — how exchanges are recorded for replay (where they are recorded is per route,
/// `gateway.routes[].record`, and per service, `services.<name>.record`).
public struct RecordingConfig: Sendable, Equatable {
    public static let defaultMaxBody = 1 << 20

    /// `max_body` — bytes kept of each body (request and response); longer ones are marked truncated.
    public var maxBody: Int
    /// `redact_headers` — header names redacted besides the defaults (Authorization, Cookie, …).
    public var redactHeaders: [String]
    /// `redact_fields` — JSON body fields redacted at any depth besides the defaults.
    public var redactFields: [String]
    /// `redact_query` — query parameters redacted besides the defaults.
    public var redactQuery: [String]

    public init(maxBody: Int = RecordingConfig.defaultMaxBody, redactHeaders: [String] = [], redactFields: [String] = [],
                redactQuery: [String] = []) {
        self.maxBody = maxBody
        self.redactHeaders = redactHeaders
        self.redactFields = redactFields
        self.redactQuery = redactQuery
    }
}

/// `replay:` — what `devmesh replay` (and the UI's Replay) adds to recorded requests.
public struct ReplayConfig: Sendable, Equatable {
    /// `auth.bearer` — a fresh token for `Authorization: Bearer …` (`${VAR}` expanded at replay time).
    public var bearer: String?
    public var bearerLocation: SourceLocation?
    /// `auth.headers` — fresh credential headers (`${VAR}` expanded at replay time).
    public var headers: [EnvVar]
    /// `ignore` — JSON ignore rules (JSONPath or `re:` regex) applied to every replayed body.
    public var ignore: [String]
    /// Where each `ignore` rule was written (parallel to `ignore`), for `check`.
    public var ignoreLocations: [SourceLocation] = []
    /// `ignore_headers` — response headers not compared, besides the default list.
    public var ignoreHeaders: [String]

    public init(bearer: String? = nil, bearerLocation: SourceLocation? = nil, headers: [EnvVar] = [], ignore: [String] = [],
                ignoreHeaders: [String] = []) {
        self.bearer = bearer
        self.bearerLocation = bearerLocation
        self.headers = headers
        self.ignore = ignore
        self.ignoreHeaders = ignoreHeaders
    }
}
