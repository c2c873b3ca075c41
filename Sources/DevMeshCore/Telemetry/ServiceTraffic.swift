/// A service's traffic over a recent window, from the spans of the requests it served: the
/// sidecar's inbound hops (or the gateway's), and for apps outside the mesh their own OTLP server
/// spans.
public struct TrafficMetrics: Sendable, Equatable, Codable {
    public var requests: Int
    /// Requests per second over the window.
    public var rps: Double
    public var errors: Int
    /// `errors / requests`, 0 without requests.
    public var errorRate: Double
    public var p50Nanos: UInt64?
    public var p99Nanos: UInt64?

    public init(requests: Int, rps: Double, errors: Int, errorRate: Double, p50Nanos: UInt64?, p99Nanos: UInt64?) {
        self.requests = requests
        self.rps = rps
        self.errors = errors
        self.errorRate = errorRate
        self.p50Nanos = p50Nanos
        self.p99Nanos = p99Nanos
    }

    public static let idle = TrafficMetrics(requests: 0, rps: 0, errors: 0, errorRate: 0, p50Nanos: nil, p99Nanos: nil)

    /// From the durations and error flags of the requests in a window of `seconds`.
    public init(durations: [UInt64], errors: Int, seconds: Double) {
        let sorted = durations.sorted()
        self.init(requests: sorted.count, rps: seconds > 0 ? Double(sorted.count) / seconds : 0, errors: errors,
                  errorRate: sorted.isEmpty ? 0 : Double(errors) / Double(sorted.count),
                  p50Nanos: Self.percentile(sorted, 0.50), p99Nanos: Self.percentile(sorted, 0.99))
    }

    /// Nearest rank on sorted values.
    public static func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }
}

/// Who calls whom, from spans: an edge for every span whose parent belongs to another service.
public struct ServiceGraph: Sendable, Equatable, Codable {
    public struct Node: Sendable, Equatable, Codable {
        public var name: String
        /// Requests the service served in the window.
        public var requests: Int
        public var errors: Int
        public init(name: String, requests: Int, errors: Int) {
            self.name = name
            self.requests = requests
            self.errors = errors
        }
    }

    public struct Edge: Sendable, Equatable, Codable {
        public var from: String
        public var to: String
        public var calls: Int
        public var errors: Int
        public var p50Nanos: UInt64?
        public init(from: String, to: String, calls: Int, errors: Int, p50Nanos: UInt64?) {
            self.from = from
            self.to = to
            self.calls = calls
            self.errors = errors
            self.p50Nanos = p50Nanos
        }
    }

    public var sinceNanos: UInt64
    public var nodes: [Node]
    public var edges: [Edge]
    /// The span pairs read were capped: counts are a sample of the newest.
    public var truncated: Bool

    public init(sinceNanos: UInt64, nodes: [Node], edges: [Edge], truncated: Bool = false) {
        self.sinceNanos = sinceNanos
        self.nodes = nodes
        self.edges = edges
        self.truncated = truncated
    }

    /// One call: a child span of `to` under a span of `from`.
    public struct Call: Sendable, Equatable {
        public var from: String
        public var to: String
        public var durationNanos: UInt64
        public var isError: Bool
        public init(from: String, to: String, durationNanos: UInt64, isError: Bool) {
            self.from = from
            self.to = to
            self.durationNanos = durationNanos
            self.isError = isError
        }
    }

    /// Edges from calls, nodes from both the calls and the services' own traffic; sorted by name.
    public init(sinceNanos: UInt64, calls: [Call], traffic: [String: TrafficMetrics], truncated: Bool) {
        var grouped: [String: (from: String, to: String, durations: [UInt64], errors: Int)] = [:]
        for call in calls where call.from != call.to {
            let key = call.from + "\u{1}" + call.to
            grouped[key, default: (call.from, call.to, [], 0)].durations.append(call.durationNanos)
            if call.isError { grouped[key]!.errors += 1 }
        }
        let edges = grouped.values.map { group in
            Edge(from: group.from, to: group.to, calls: group.durations.count, errors: group.errors,
                 p50Nanos: TrafficMetrics.percentile(group.durations.sorted(), 0.5))
        }.sorted { ($0.from, $0.to) < ($1.from, $1.to) }
        var names = Set(traffic.keys)
        for edge in edges { names.insert(edge.from); names.insert(edge.to) }
        let nodes = names.sorted().map { name in
            Node(name: name, requests: traffic[name]?.requests ?? 0, errors: traffic[name]?.errors ?? 0)
        }
        self.init(sinceNanos: sinceNanos, nodes: nodes, edges: edges, truncated: truncated)
    }
}

/// `GET /api/v1/services`: each service of the stack with its replicas and its traffic, and the
/// other sources of spans (the gateway, apps that only send OTLP).
public struct ServicesOverview: Sendable, Equatable, Codable {
    public struct Service: Sendable, Equatable, Codable {
        public var name: String
        public var port: Int?
        public var `protocol`: String
        public var replicas: [ReplicaStatus]
        public var metrics: TrafficMetrics
    }

    public struct Other: Sendable, Equatable, Codable {
        public var name: String
        public var metrics: TrafficMetrics
    }

    public var windowSeconds: Double
    public var services: [Service]
    public var others: [Other]

    public init(status: StackStatus, traffic: [String: TrafficMetrics], windowSeconds: Double) {
        self.windowSeconds = windowSeconds
        self.services = status.services.map {
            Service(name: $0.name, port: $0.port, protocol: $0.protocol, replicas: $0.replicas, metrics: traffic[$0.name] ?? .idle)
        }
        let known = Set(status.services.map(\.name))
        self.others = traffic.filter { !known.contains($0.key) }.sorted { $0.key < $1.key }.map { Other(name: $0.key, metrics: $0.value) }
    }
}
