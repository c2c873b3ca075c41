/// One service of the stack (`services.<name>` and/or a Procfile line).
public struct ServiceConfig: Sendable, Equatable {
    /// DNS-1123 label: lower-case letters, digits and `-`, at most 63 characters.
    public var name: String
    /// The command, run with `/bin/sh -c`; `$PORT` is the app's private port.
    public var run: String
    /// Where the command was written (Procfile line or `run:` key), for messages.
    public var runLocation: SourceLocation?
    /// `port:` — the stable port of the service listener; `nil` means automatic.
    public var port: Int?
    /// `replicas:` — how many copies of the app run (default 1).
    public var replicas: Int
    /// `env:` — extra environment; values may use `${VAR}` from devmesh's own environment.
    public var env: [EnvVar]
    /// `env_file:` — a dotenv file whose variables the app gets (before `env:`).
    public var envFile: String?
    /// `health:` — readiness and liveness probe; `nil` means "ready once started".
    public var health: HealthCheck?
    /// `needs:` — services that must be healthy before this one starts.
    public var needs: [String]
    /// `restart:` — what happens when the app exits (default `on-failure`).
    public var restart: RestartPolicy
    /// `labels:` — policy selectors; `app` defaults to the service name.
    public var labels: [String: String]
    /// `namespace:` — the policy namespace (default `default`).
    public var namespace: String
    /// `upstreams:` — services (or externals) this one calls; each gets a `<NAME>_URL`.
    public var upstreams: [String]
    /// `protocol:` — `http` (default), `tcp` or `none` (no sidecar, no URL).
    public var `protocol`: ServiceProtocol
    /// `egress_proxy:` — set `HTTP_PROXY`/`HTTPS_PROXY` to a by-name egress proxy.
    public var egressProxy: Bool
    /// `balancer:` — how callers spread requests over the replicas (default `p2c-ewma`).
    public var balancer: BalancerChoice
    /// `timeouts:` — of every sidecar hop towards this service.
    public var timeouts: HopTimeouts
    /// `retries:` — of idempotent requests to this service that failed before an answer.
    public var retries: HopRetries
    /// `record:` — record the exchanges reaching this service's inbound sidecars (default off).
    public var record: Bool = false
    /// `redact:` — redact what is recorded here (default on; off only for local-only data).
    public var redact: Bool = true
    /// `openapi:` — the service's OpenAPI file (relative to the stack's root), served rendered by
    /// the gateway at `/_devmesh/docs/<service>`.
    public var openapi: String?
    /// Where each part was written, for diagnostics.
    public var origin: ServiceOrigin

    public init(
        name: String,
        run: String,
        runLocation: SourceLocation? = nil,
        port: Int? = nil,
        replicas: Int = 1,
        env: [EnvVar] = [],
        envFile: String? = nil,
        health: HealthCheck? = nil,
        needs: [String] = [],
        restart: RestartPolicy = .onFailure,
        labels: [String: String] = [:],
        namespace: String = "default",
        upstreams: [String] = [],
        protocol: ServiceProtocol = .http,
        egressProxy: Bool = false,
        balancer: BalancerChoice = .p2cEWMA,
        timeouts: HopTimeouts = HopTimeouts(),
        retries: HopRetries = HopRetries(),
        origin: ServiceOrigin = ServiceOrigin()
    ) {
        self.name = name
        self.run = run
        self.runLocation = runLocation
        self.port = port
        self.replicas = replicas
        self.env = env
        self.envFile = envFile
        self.health = health
        self.needs = needs
        self.restart = restart
        self.labels = labels
        self.namespace = namespace
        self.upstreams = upstreams
        self.protocol = `protocol`
        self.egressProxy = egressProxy
        self.balancer = balancer
        self.timeouts = timeouts
        self.retries = retries
        self.origin = origin
    }

    /// Labels with `app` defaulted to the service name.
    public var effectiveLabels: [String: String] {
        var l = labels
        if l["app"] == nil { l["app"] = name }
        return l
    }

    /// Replica instance ids, `<service>.<n>` with n from 1.
    public var instanceIDs: [String] { (1...max(1, replicas)).map { "\(name).\($0)" } }
}

/// One `KEY: value` of an `env:` map, in the order written.
public struct EnvVar: Sendable, Equatable {
    public var name: String
    public var value: String
    public var location: SourceLocation?

    public init(name: String, value: String, location: SourceLocation? = nil) {
        self.name = name
        self.value = value
        self.location = location
    }
}

/// `restart:` — when a replica that exited is started again.
public enum RestartPolicy: String, Sendable, Equatable, CaseIterable {
    case always
    case onFailure = "on-failure"
    case never
}

/// `protocol:` — what the service speaks on its port.
public enum ServiceProtocol: String, Sendable, Equatable, CaseIterable {
    case http
    case tcp
    case none
}

/// `health:` — how devmesh decides a replica is ready and stays healthy.
public struct HealthCheck: Sendable, Equatable {
    public enum Probe: Sendable, Equatable {
        /// `http: /path` — GET on the app's private port; 2xx or 3xx is healthy.
        case http(path: String)
        /// `tcp: true` — a TCP connect to the app's private port succeeds.
        case tcp
    }

    public var probe: Probe
    /// `interval:` — time between probes (default 2s).
    public var interval: Duration
    /// `timeout:` — how long one probe may take (default 1s).
    public var timeout: Duration
    /// `start_period:` — how long a replica may take to become healthy before devmesh warns (default 60s).
    public var startPeriod: Duration

    public static let defaultInterval: Duration = .seconds(2)
    public static let defaultTimeout: Duration = .seconds(1)
    public static let defaultStartPeriod: Duration = .seconds(60)

    public init(
        probe: Probe,
        interval: Duration = HealthCheck.defaultInterval,
        timeout: Duration = HealthCheck.defaultTimeout,
        startPeriod: Duration = HealthCheck.defaultStartPeriod
    ) {
        self.probe = probe
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
    }
}

/// Source locations of a service's parts, so later passes can point at the exact key.
public struct ServiceOrigin: Sendable, Equatable {
    /// The service's key under `services:` in the YAML file.
    public var yamlKey: SourceLocation?
    /// The Procfile line that defines it.
    public var procfileLine: SourceLocation?
    public var port: SourceLocation?
    public var needs: [SourceLocation?] = []
    public var upstreams: [SourceLocation?] = []
    public var envFile: SourceLocation?
    public var egressProxy: SourceLocation?
    public var replicas: SourceLocation?
    public var `protocol`: SourceLocation?
    public var openapi: SourceLocation?

    public init() {}

    /// The best place to point at when the whole service is meant.
    public var primary: SourceLocation? { yamlKey ?? procfileLine }
}

/// `balancer:` — load balancing over a service's replicas.
public enum BalancerChoice: String, Sendable, Equatable, CaseIterable {
    /// Power of two choices on peak-EWMA latency × (in-flight + 1) (Linkerd's default).
    case p2cEWMA = "p2c-ewma"
    /// Each replica in turn.
    case roundRobin = "round-robin"
}

/// `timeouts:` — of each sidecar hop towards a service.
public struct HopTimeouts: Sendable, Equatable {
    /// `connect` — establishing a connection to a replica (default 2s).
    public var connect: Duration = .seconds(2)
    /// `request` — from sending a request to its response head (default 30s); 504 after.
    public var request: Duration = .seconds(30)
    /// `idle` — a keep-alive client connection with no request (default 60s).
    public var idle: Duration = .seconds(60)

    public init() {}
}

/// `retries:` — of idempotent requests whose replica failed before answering.
public struct HopRetries: Sendable, Equatable {
    /// `attempts` — extra attempts per request (default 2; 0 turns retries off).
    public var attempts: Int = 2
    /// `budget` — retries may add at most this share of recent requests (default 20%).
    public var budget: Double = 0.2

    public init() {}
}
