import NIOConcurrencyHelpers

/// A place requests can go: host and port, and a name for messages (`users.1`).
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var name: String

    public init(host: String = "127.0.0.1", port: Int, name: String) {
        self.host = host
        self.port = port
        self.name = name
    }

    public var description: String { "\(name) (\(host):\(port))" }

    /// The port alone: the balancer and the connection pool look an endpoint up several times per
    /// request, and hashing its two strings each time showed in profiles. Endpoints of one
    /// upstream differ by port (equality still compares every field).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(port)
    }
}

/// The current endpoints of an upstream. The supervisor updates it as replicas become ready or
/// stop; proxies read a snapshot per request.
public final class EndpointSource: Sendable {
    private let state: NIOLockedValueBox<(version: Int, endpoints: [Endpoint])>

    public init(_ endpoints: [Endpoint] = []) {
        state = NIOLockedValueBox((0, endpoints))
    }

    public var endpoints: [Endpoint] { state.withLockedValue { $0.endpoints } }

    /// The endpoints and a version number that changes whenever they do.
    public var snapshot: (version: Int, endpoints: [Endpoint]) { state.withLockedValue { $0 } }

    public func set(_ endpoints: [Endpoint]) {
        state.withLockedValue { s in
            guard s.endpoints != endpoints else { return }
            s.version += 1
            s.endpoints = endpoints
        }
    }
}
