/// The one canonical model of a stack, whatever files it came from (Procfile, devmesh.yaml or both).
public struct StackConfig: Sendable, Equatable {
    /// Folder of the stack: where the config files live and `.devmesh/` is kept.
    public var root: String
    /// Services in the order they were declared (Procfile order first, then YAML-only ones).
    public var services: [ServiceConfig]
    /// The edge gateway (`gateway:`), if configured.
    public var gateway: GatewayConfig
    /// Ambassadors before services outside the stack (`external:`).
    public var externals: [ExternalConfig]
    /// The admin listener: web UI + JSON API, loopback only.
    public var admin: AdminConfig
    /// Istio `security.istio.io` YAML files or folders (`policies:`).
    public var policies: [String]
    /// Path normalisation for policy matching (`policy_normalization:`), Istio's names.
    public var policyNormalization: PolicyNormalization
    /// Mutual TLS between sidecars (`mtls:`).
    public var mtls: MTLSMode
    /// devmesh's own secrets file for `${VAR}` expansion (`env_file:` at the top level).
    public var envFile: String?
    /// OTLP ingest and export (`telemetry:`).
    public var telemetry: TelemetryConfig
    /// How exchanges are recorded and redacted (`recording:`).
    public var recording: RecordingConfig = RecordingConfig()
    /// Fresh credentials and ignore rules for replays (`replay:`).
    public var replay: ReplayConfig = ReplayConfig()
    /// Where top-level parts were written, for diagnostics.
    public var origin: StackOrigin

    public init(
        root: String,
        services: [ServiceConfig] = [],
        gateway: GatewayConfig = GatewayConfig(),
        externals: [ExternalConfig] = [],
        admin: AdminConfig = AdminConfig(),
        policies: [String] = [],
        policyNormalization: PolicyNormalization = .base,
        mtls: MTLSMode = .permissive,
        envFile: String? = nil,
        telemetry: TelemetryConfig = TelemetryConfig(),
        origin: StackOrigin = StackOrigin()
    ) {
        self.root = root
        self.services = services
        self.gateway = gateway
        self.externals = externals
        self.admin = admin
        self.policies = policies
        self.policyNormalization = policyNormalization
        self.mtls = mtls
        self.envFile = envFile
        self.telemetry = telemetry
        self.origin = origin
    }

    public func service(named name: String) -> ServiceConfig? {
        services.first { $0.name == name }
    }
}

/// `policy_normalization:` — how request paths are normalised before policies match them.
public enum PolicyNormalization: String, Sendable, Equatable, CaseIterable {
    case base = "BASE"
    case mergeSlashes = "MERGE_SLASHES"
    case decodeAndMergeSlashes = "DECODE_AND_MERGE_SLASHES"
}

/// `mtls:` — whether sidecar-to-sidecar hops use mutual TLS.
public enum MTLSMode: String, Sendable, Equatable, CaseIterable {
    /// mTLS between sidecars; service listeners also accept plaintext from outside the mesh.
    case permissive
    /// Service listeners closed: outside traffic enters through the gateway only.
    case strict
    /// No TLS between sidecars.
    case off
}

/// `admin:` — the web UI and JSON API listener.
public struct AdminConfig: Sendable, Equatable {
    /// Default admin port; when taken, devmesh picks a free one and records it in state.json.
    public static let defaultPort = 9901
    /// `admin.port`; `nil` means the default (with fallback when taken).
    public var port: Int?

    public init(port: Int? = nil) { self.port = port }
}

/// `telemetry:` — OTLP/HTTP ingest and optional export.
public struct TelemetryConfig: Sendable, Equatable {
    public static let defaultOTLPPort = 4318
    /// `telemetry.otlp_port`; `nil` means the default (with fallback when taken).
    public var otlpPort: Int?
    /// `telemetry.otlp_export`: a collector URL to forward to.
    public var otlpExport: String?
    /// `telemetry.retention.max_age` (default 7d).
    public var retentionMaxAge: Duration?
    /// `telemetry.retention.max_size` in bytes (default 1 GiB).
    public var retentionMaxBytes: Int64?

    public init(otlpPort: Int? = nil, otlpExport: String? = nil, retentionMaxAge: Duration? = nil, retentionMaxBytes: Int64? = nil) {
        self.otlpPort = otlpPort
        self.otlpExport = otlpExport
        self.retentionMaxAge = retentionMaxAge
        self.retentionMaxBytes = retentionMaxBytes
    }
}

/// Source locations of top-level parts of the stack config.
public struct StackOrigin: Sendable, Equatable {
    /// The files the config was read from (Procfile and/or devmesh.yaml).
    public var files: [String] = []
    /// Each top-level key of devmesh.yaml that was written.
    public var sections: [String: SourceLocation] = [:]
    public var envFile: SourceLocation?
    public var adminPort: SourceLocation?
    public var httpsPort: SourceLocation?
    public var httpPort: SourceLocation?
    public var otlpPort: SourceLocation?

    public init() {}
}
