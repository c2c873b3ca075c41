import DevMeshCore
import DevMeshTLS
import NIOCore
import NIOSSL
import NIOTLS
import NIOPosix

/// `protocol: tcp`: one client connection relayed byte for byte to a balanced endpoint, with
/// back-pressure both ways and one span per connection.
final class TCPRelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let route: ProxyRoute
    let loop: ListenerLoopState
    private var context: ChannelHandlerContext?
    private var peer: (any Channel)?
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0
    private var pausedWhileConnecting = false
    private var endpoint: Endpoint?
    private var startNanos: UInt64 = 0
    private var startUptime = NIODeadline.now()
    private var bytesIn: UInt64 = 0
    private var failure: String?
    private var recorded = false
    private var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))

    /// Behind mesh TLS: the app is connected only once the client finished its handshake (or, in
    /// permissive mode, sent its first plaintext byte), so unauthenticated clients hold nothing.
    let waitsForClient: Bool
    private var connectStarted = false
    private var clientTimer: Scheduled<Void>?

    init(route: ProxyRoute, loop: ListenerLoopState, waitsForClient: Bool = false) {
        self.route = route
        self.loop = loop
        self.waitsForClient = waitsForClient
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        startNanos = ProxyServerHandler.wallNanos()
        startUptime = .now()
        if waitsForClient {
            // A client that never completes its handshake is cut off like a slow request head.
            clientTimer = context.eventLoop.assumeIsolated().scheduleTask(in: ProxyServerHandler.amount(route.timeouts.requestHead)) {
                [self] in
                if !connectStarted {
                    failure = "client-handshake-timeout"
                    self.context?.close(promise: nil)
                }
            }
        } else {
            startConnecting(context)
        }
        context.fireChannelActive()
    }

    private func startConnecting(_ context: ChannelHandlerContext) {
        guard !connectStarted else { return }
        connectStarted = true
        clientTimer?.cancel()
        clientTimer = nil
        if let gate = route.authorization {
            // Envoy's network RBAC filter: decided once per connection; a denied one is closed
            // before the app is ever connected.
            let (allowed, note) = gate.current.checkConnection(principal: clientPrincipal(context),
                                                               sourceIP: context.channel.remoteAddress?.ipAddress)
            policyNote = note
            guard allowed else {
                failure = "rbac-denied"
                context.close(promise: nil)
                return
            }
        }
        connect(context: context, attempt: 1, excluding: nil)
    }

    private var policyNote: PolicyNote?

    /// The caller's principal when the connection is mTLS.
    private func clientPrincipal(_ context: ChannelHandlerContext) -> String? {
        guard let tls = try? context.channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
              let cert = tls.peerCertificate else { return nil }
        return TLSConfigurations.peerIdentity(cert)?.principal
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { startConnecting(context) }
        context.fireUserInboundEventTriggered(event)
    }

    private func connect(context: ChannelHandlerContext, attempt: Int, excluding: Endpoint?) {
        guard let endpoint = loop.balancer.pick(from: route.endpoints.endpoints, excluding: excluding, now: .now()) else {
            failure = "no-healthy-upstream"
            context.close(promise: nil)
            return
        }
        self.endpoint = endpoint
        loop.balancer.started(endpoint)
        let client = context.channel
        UpstreamConnector.connect(to: endpoint, on: context.eventLoop, timeout: ProxyServerHandler.amount(route.timeouts.connect),
                                  tls: route.upstreamTLS) { TCPPeerHandler(client: client) }
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    peer = channel
                    for buffer in pending { channel.write(buffer, promise: nil) }
                    pending = []
                    pendingBytes = 0
                    channel.flush()
                    if pausedWhileConnecting {
                        pausedWhileConnecting = false
                        client.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                        client.read()
                    }
                    if !client.isActive { channel.close(promise: nil) }
                case .failure:
                    loop.balancer.finished(endpoint, latencyNanos: 0, failed: true, now: .now())
                    if attempt <= route.retries.attempts, client.isActive {
                        connect(context: context, attempt: attempt + 1, excluding: endpoint)
                    } else {
                        failure = "upstream-refused"
                        self.endpoint = endpoint
                        context.close(promise: nil)
                    }
                }
            }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        startConnecting(context)
        let buffer = unwrapInboundIn(data)
        bytesIn += UInt64(buffer.readableBytes)
        if let peer {
            peer.write(buffer, promise: nil)
        } else {
            // Still connecting: hold what arrives, but not without bound.
            pending.append(buffer)
            pendingBytes += buffer.readableBytes
            if pendingBytes > 1 << 20, !pausedWhileConnecting {
                pausedWhileConnecting = true
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        peer?.flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        peer?.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenComplete { _ in }
        if context.channel.isWritable { peer?.read() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientTimer?.cancel()
        clientTimer = nil
        peer?.close(promise: nil)
        record()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// One span and one access record per connection.
    private func record() {
        guard !recorded, route.telemetry.isEnabled else { return }
        recorded = true
        let end = ProxyServerHandler.wallNanos()
        if let endpoint, failure == nil {
            loop.balancer.finished(endpoint, latencyNanos: ProxyServerHandler.elapsed(startUptime, .now()), failed: false, now: .now())
        }
        let gen = TraceIDGenerator()
        route.telemetry.record(hop: HopRecord(
            listener: route.role.rawValue, service: route.service, instance: route.instance, upstreamName: route.upstreamName,
            traceID: gen.traceID(using: &rng), spanID: gen.spanID(using: &rng), parentSpanID: nil,
            method: "TCP", target: "/", host: "", userAgent: nil, minorVersion: 1, status: failure == nil ? 0 : failure == "rbac-denied" ? 403 : 502,
            error: failure, startNanos: startNanos, durationNanos: end > startNanos ? end - startNanos : 0,
            endpointName: endpoint?.name, endpointHost: endpoint?.host, endpointPort: endpoint?.port, attempts: 1,
            bytesIn: bytesIn, bytesOut: 0, policy: policyNote))
    }
}

/// The upstream side of a TCP relay: bytes back to the client, close follows close.
final class TCPPeerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let client: any Channel

    init(client: any Channel) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        client.write(unwrapInboundIn(data), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        client.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        client.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenComplete { _ in }
        if context.channel.isWritable { client.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
