import NIOCore

/// Idle keep-alive connections to upstreams, per listener and event loop, used LIFO (the most
/// recently used connection is the warmest and least likely to have been closed by its server).
final class UpstreamPool {
    /// Generous: an HTTP/2 client multiplexes hundreds of requests over one connection, and each
    /// needs its own upstream connection while in flight; closing the surplus after every burst
    /// would mean a new (mTLS) handshake per request. Idle ones are closed by the upstream's idle
    /// timeout and then leave the pool.
    let maxIdlePerEndpoint: Int
    private var idle: [Endpoint: [UpstreamConnection]] = [:]

    init(maxIdlePerEndpoint: Int = 512) {
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
    }

    /// A live idle connection to `endpoint`, if any.
    func take(_ endpoint: Endpoint) -> UpstreamConnection? {
        while let conn = idle[endpoint]?.popLast() {
            if conn.isReusable { return conn }
        }
        return nil
    }

    func put(_ conn: UpstreamConnection) {
        if let list = idle[conn.endpoint], list.count >= maxIdlePerEndpoint {
            conn.close()
            return
        }
        // In place: a copy out and back would copy the array on every request.
        idle[conn.endpoint, default: []].append(conn)
    }

    /// Called when an idle connection's server closed it.
    func remove(_ conn: UpstreamConnection) {
        idle[conn.endpoint]?.removeAll { $0 === conn }
    }

    var idleCount: Int { idle.values.reduce(0) { $0 + $1.count } }

    func closeAll() {
        for list in idle.values { for c in list { c.close() } }
        idle = [:]
    }
}

/// What each listener keeps per event loop: its pool, balancer and retry budget.
final class ListenerLoopState {
    let pool = UpstreamPool()
    let balancer: LoadBalancer
    var budget: RetryBudget

    init(route: ProxyRoute, outliers: OutlierDetector) {
        balancer = LoadBalancer(kind: route.balancer, outliers: outliers)
        budget = RetryBudget(policy: route.retries)
    }
}

/// One `T` per event loop of a group, each touched only on its own loop.
final class PerLoop<T>: Sendable {
    private let values: [ObjectIdentifier: NIOLoopBoundBox<T>]

    init(group: any EventLoopGroup, make: (any EventLoop) -> sending T) {
        var v: [ObjectIdentifier: NIOLoopBoundBox<T>] = [:]
        for loop in group.makeIterator() {
            v[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeBoxSendingValue(make(loop), eventLoop: loop)
        }
        values = v
    }

    func value(on loop: any EventLoop) -> T {
        values[ObjectIdentifier(loop)]!.value
    }
}
