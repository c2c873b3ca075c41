import DevMeshAuth
import DevMeshCore
import DevMeshHTTP1
import DevMeshPolicy
import DevMeshTLS
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// One client connection of a proxy listener: HTTP/1.1 with keep-alive and pipelining, each
/// request head parsed once, bodies streamed both ways with back-pressure, upstream connections
/// taken from a per-loop pool. Everything runs on the connection's event loop; the fast path has
/// no futures and no locks.
final class ProxyServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The most pipelined bytes buffered while a request is in progress before reading pauses.
    static let maxBuffered = 64 * 1024

    let route: ProxyRoute
    let loop: ListenerLoopState
    let parser: HTTP1RequestParser
    let responseParser: HTTP1ResponseParser
    private var context: ChannelHandlerContext?
    private var inbound: ByteBuffer
    private var exchange: Exchange?
    private var tunnel: UpstreamConnection?
    private var closing = false
    private var readPausedForUpstream = false
    private var readPausedForBuffer = false
    private var needsUpstreamFlush = false
    private var timer: Scheduled<Void>?
    /// Trace and span ids need to be unique, not secret: a fast generator seeded once per
    /// connection avoids a getrandom syscall per id.
    private var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
    /// The client's address for `X-Forwarded-For`, formatted once per connection.
    private var clientAddress: String?
    /// The client's mTLS identity, read once from the connection's TLS handler.
    private var peerChecked = false
    private var peer: SPIFFEID?
    /// The client presented a certificate (mTLS), whether or not it named an identity.
    private var peerIsTLS = false

    /// Whether this handler serves one HTTP/2 stream (the connection is the channel's parent).
    let isHTTP2Stream: Bool

    init(route: ProxyRoute, loop: ListenerLoopState, isHTTP2Stream: Bool = false) {
        self.route = route
        self.loop = loop
        self.isHTTP2Stream = isHTTP2Stream
        parser = HTTP1RequestParser(limits: route.limits)
        responseParser = HTTP1ResponseParser(limits: route.limits)
        inbound = ByteBuffer()
    }

    // MARK: - Client side

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        inbound = context.channel.allocator.buffer(capacity: 4096)
        // Added after the connection became active (behind ALPN, or on an HTTP/2 stream).
        if context.channel.isActive { becameActive(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        becameActive(context)
        context.fireChannelActive()
    }

    private var active = false

    private func becameActive(_ context: ChannelHandlerContext) {
        guard !active else { return }
        active = true
        let connection = isHTTP2Stream ? (context.channel.parent ?? context.channel) : context.channel
        clientAddress = connection.remoteAddress?.ipAddress
        armIdleTimer()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if let tunnel {
            tunnel.channel.write(bytes, promise: nil)
            needsUpstreamFlush = true
            return
        }
        // Most reads hold exactly one request: take the buffer as it is instead of copying it.
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        process()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushUpstream()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The client reads slower than the upstream answers: pause the upstream until it catches up.
        let upstream = tunnel ?? exchange?.upstream
        if let upstream {
            upstream.readPaused = !context.channel.isWritable
            upstream.channel.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenComplete { _ in }
            if context.channel.isWritable { upstream.channel.read() }
        } else if context.channel.isWritable, exchange == nil, tunnel == nil {
            // Pipelined requests waited for the client to read devmesh's own answers.
            if readPausedForBuffer {
                readPausedForBuffer = false
                setClientAutoRead()
            }
            process()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        timer?.cancel()
        if let exchange {
            exchange.capture?.responseIncomplete = exchange.responseHead != nil
            exchange.upstream?.close()
            finishTelemetry(exchange, status: exchange.responseHead?.status ?? 499, error: exchange.responseHead == nil ? "client-closed" : nil)
            self.exchange = nil
        }
        tunnel?.close()
        tunnel = nil
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: - Requests

    /// Parses what arrived and moves the current exchange forward.
    /// Set while `process` runs: answers devmesh gives itself (a refused or unroutable request)
    /// end by processing the next pipelined request, and that must loop here, not recurse.
    private var inProcess = false

    private func process() {
        guard let context, !closing, !inProcess else { return }
        inProcess = true
        defer { inProcess = false }
        while true {
            if closing { return }
            if authenticating {
                // The body (and pipelined requests) wait for the token's verdict, bounded.
                if inbound.readableBytes > Self.maxBuffered, !readPausedForBuffer {
                    readPausedForBuffer = true
                    setClientAutoRead()
                }
                return
            }
            if let exchange {
                forwardRequestBody(exchange)
                // Pipelined requests, or a body arriving before the upstream is ready: bounded.
                if exchange.requestComplete || exchange.upstream == nil, inbound.readableBytes > Self.maxBuffered, !readPausedForBuffer {
                    readPausedForBuffer = true
                    setClientAutoRead()
                }
                return
            }
            guard inbound.readableBytes > 0 else {
                inbound.discardReadBytes()
                return
            }
            // Answers the client does not read are not piled up: parse on when it catches up.
            guard context.channel.isWritable else {
                if inbound.readableBytes > Self.maxBuffered, !readPausedForBuffer {
                    readPausedForBuffer = true
                    setClientAutoRead()
                }
                return
            }
            let result = inbound.withUnsafeReadableBytes { parser.parse($0) }
            switch result {
            case .incomplete:
                armHeadTimer()
                return
            case .invalid(let violation):
                refuse(violation)
                return
            case .complete(let head):
                let headBytes = inbound.readSlice(length: head.headLength)!
                start(head, headBytes: headBytes, context: context)
            }
        }
    }

    private func refuse(_ violation: HTTP1Violation) {
        guard let context else { return }
        var out = context.channel.allocator.buffer(capacity: 256)
        ErrorResponse.write(status: violation.status, code: "bad-request", message: violation.detail, close: true, into: &out)
        closing = true
        let now = Self.wallNanos()
        route.telemetry.record(access: AccessLogRecord(
            time: Double(now) / 1e9, listener: route.role.rawValue, service: route.service, instance: route.instance,
            source: nil, method: "-", path: "-", status: violation.status, durationMillis: 0, bytesIn: UInt64(inbound.readableBytes),
            bytesOut: UInt64(out.readableBytes), upstream: nil, traceID: "", spanID: "", error: "bad-request: \(violation.kind.rawValue)",
            attempts: 0))
        context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// What the gateway decided for a request it cannot forward.
    private enum Refusal {
        case answer(status: Int, code: String?, message: String, extraFields: String)
        /// A page the gateway serves itself (`/_devmesh/docs`).
        case page(StaticPages.Page)
    }

    private func start(_ head: HTTP1RequestHead, headBytes: ByteBuffer, context: ChannelHandlerContext,
                       authentication: RequestAuthenticator.Outcome? = nil, authorizationInUse: InboundAuthorization? = nil,
                       routeAuth: RouteAuthResult? = nil) {
        var target = head.target
        var endpoints = route.endpoints
        var upstreamName = route.upstreamName
        var upstreamTLS = route.upstreamTLS
        var edits: HeaderEdits?
        var responseEdits: HeaderEdits?
        var refusal: Refusal?
        /// What the policies evaluate at the gateway: the client's (normalised) path, before any route rewrite.
        var policyTarget: String?
        /// The answer's fields when a route's `cors` allows the request's origin.
        var corsEdits: HeaderEdits?
        /// The matched route of the gateway (its rate limit applies once the policies allowed the request).
        var matchedRouteIndex: Int?
        /// The matched route's `compress`.
        var compression: CompressionConfig?
        /// An aggregate route's calls and the captures of its path.
        var aggregatePlan: (AggregateRoute, [String: String])?
        /// Where the gateway counts this request's usage.
        var usageTarget: GatewayUsage.Target? = route.gateway == nil ? nil : .unrouted
        /// A `CONNECT` the ambassador's sidecar answers itself by opening a tunnel to the external.
        var connectTunnel = false
        /// The matched route's `record` and `redact` (the gateway); an unrouted request is recorded, redacted.
        var recordRoute = (record: true, redact: route.recording?.redact ?? true)
        if let gateway = route.gateway {
            let origin = Self.originForm(head.target)
            if head.method == "CONNECT" {
                refusal = .answer(status: 405, code: "method-not-allowed", message: "the gateway does not tunnel (CONNECT)",
                                  extraFields: "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n")
            } else if !origin.hasPrefix("/") {
                refusal = .answer(status: 400, code: "bad-request", message: "the gateway takes origin-form targets (`/path`), not `\(origin.prefix(80))`",
                                  extraFields: "")
            } else if let port = gateway.redirectToHTTPSPort {
                let host = GatewayRouteTable.normalizeHost(head.host)
                let authority = host.contains(":") ? "[\(host)]" : host
                let location = "https://\(authority)\(port == 443 ? "" : ":\(port)")\(origin)"
                refusal = .answer(status: 308, code: nil, message: "this gateway serves HTTPS: \(location)",
                                  extraFields: "Location: \(location)\r\n")
            } else {
                // With policies, the path is normalised before anything reads it — as Envoy's
                // connection manager does — so routes and the gateway's policies see the same
                // path, and a policy sees the path the client asked for, not the rewritten one.
                // Always (BASE without policies): `/api/%61dmin` must not reach `/api` past a guarded
                // `/api/admin` route, nor `..` climb out of a rewrite.
                var routed = origin
                do {
                    switch PathNormalization.normalize(origin, mode: route.authorization?.current.normalization ?? .base) {
                    case .success(let normalised): routed = normalised
                    case .failure(let rejection):
                        refusal = .answer(status: 400, code: "bad-path", message: "the request path cannot be normalised: \(rejection)",
                                          extraFields: "")
                    }
                }
                if refusal == nil { policyTarget = routed }
                // The gateway's own pages (API docs) come before every route: `/_devmesh/` is reserved.
                if refusal == nil, routed.hasPrefix(StaticPages.prefix), let pages = gateway.docs {
                    usageTarget = nil
                    recordRoute.record = false
                    let path = String(routed.prefix { $0 != "?" })
                    if head.method != "GET", head.method != "HEAD" {
                        refusal = .answer(status: 405, code: "method-not-allowed", message: "the gateway's own pages are read with GET",
                                          extraFields: "Allow: GET, HEAD\r\n")
                    } else if let page = pages.page(path) ?? pages.page(path.hasSuffix("/") ? String(path.dropLast()) : path) {
                        refusal = .page(page)
                    } else {
                        refusal = .answer(status: 404, code: "no-page", message: "no page \(path.prefix(200)); the APIs of this stack are listed at /_devmesh/docs",
                                          extraFields: "")
                    }
                }
                if refusal == nil { switch gateway.table.route(host: head.host, target: routed, field: { head.fields.first($0) }) {
                case .success(let match):
                    target = match.target
                    upstreamName = match.service
                    recordRoute = (match.record, match.redact)
                    matchedRouteIndex = match.routeIndex
                    usageTarget = match.routeIndex.map { .route($0) } ?? .automaticHost
                    compression = match.routeIndex.flatMap { gateway.compress[$0] }
                    if let cors = match.cors {
                        // Before the policies, as Envoy's CORS filter runs before jwt_authn: a
                        // preflight carries no credentials, and is answered here, never forwarded.
                        switch cors.evaluate(method: head.method, origin: head.fields.first("Origin"),
                                             requestMethod: head.fields.first("Access-Control-Request-Method"),
                                             requestHeaders: head.fields.first("Access-Control-Request-Headers")) {
                        case .notCrossOrigin: break
                        case .preflight(let fields):
                            refusal = .answer(status: 204, code: nil, message: "",
                                              extraFields: fields.map { "\($0.name): \($0.value)\r\n" }.joined())
                        case .preflightDenied(let why):
                            refusal = .answer(status: 403, code: "cors-denied", message: "CORS preflight refused: \(why)", extraFields: "")
                        case .actual(let fields):
                            // The route's CORS is the only one: the upstream's own fields go even
                            // when this origin gets none (a service reflecting every origin).
                            var merged = responseEdits ?? (match.responseHeaders.isEmpty ? HeaderEdits() : match.responseHeaders)
                            merged.remove += CORSPolicy.answerFields
                            for field in fields {
                                if field.name == "Vary" { merged.append.append((field.name, field.value)) } else { merged.add.append((field.name, field.value)) }
                            }
                            corsEdits = merged
                        }
                    }
                    upstreamTLS = gateway.upstreamTLS[match.service]
                    if !match.requestHeaders.isEmpty { edits = match.requestHeaders }
                    if !match.responseHeaders.isEmpty { responseEdits = match.responseHeaders }
                    if let corsEdits { responseEdits = corsEdits }
                    if let index = match.routeIndex, let aggregate = gateway.aggregates[index] {
                        let path = String(routed.prefix { $0 != "?" })
                        aggregatePlan = (aggregate, aggregate.pattern.match(path)?.captures ?? [:])
                        if head.method != "GET", head.method != "HEAD", refusal == nil {
                            refusal = .answer(status: 405, code: "method-not-allowed", message: "an aggregate route answers GET",
                                              extraFields: "Allow: GET, HEAD\r\n")
                        }
                    } else if let source = gateway.services[match.service] {
                        endpoints = source
                    } else {
                        refusal = .answer(status: 503, code: "service-not-running",
                                          message: "`\(match.service)` is not running in this stack (start it with `devmesh up`)", extraFields: "")
                    }
                case .failure(.unknownHost(let host)):
                    let hosts = gateway.table.servedHosts.sorted().joined(separator: ", ")
                    refusal = .answer(status: 421, code: "unknown-host",
                                      message: "this gateway does not serve `\(host)`; it serves: \(hosts) (add it to `gateway.hosts` or a route's `host`)",
                                      extraFields: "")
                case .failure(.noRoute(let host, let path)):
                    refusal = .answer(status: 404, code: "no-route",
                                      message: "no route of the gateway matches \(host)\(path) (see `gateway.routes` in devmesh.yaml)",
                                      extraFields: "")
                } }
            }
        } else if let forward = route.forward {
            // CONNECT names its destination in the target (HTTP/1.0 clients send no Host);
            // brackets, port and a trailing dot go, so `[::1]:443` finds `::1`.
            let name = GatewayRouteTable.normalizeHost(head.method == "CONNECT" ? head.target : head.host)
            if head.method == "CONNECT" {
                guard forward.connectAllowed.contains(name) else {
                    let message = forward.services[name] != nil
                        ? "CONNECT tunnels only to declared externals, and `\(name)` is a service of this stack: send plain `http://\(name)/…` through this proxy"
                        : "CONNECT is only allowed to declared externals, and `\(name)` is not one (declare it under `external:` in devmesh.yaml)"
                    answerDirectly(status: 403, code: "connect-denied", message: message)
                    return
                }
            }
            guard let source = forward.services[name] else {
                let known = forward.services.keys.sorted().joined(separator: ", ")
                answerDirectly(status: 403, code: "undeclared-external",
                               message: "`\(name)` is neither a service of this stack nor a declared external, so the mesh does not reach it; declare it under `external:` in devmesh.yaml (docs/externals.md). By name this proxy reaches: \(known)")
                return
            }
            endpoints = source
            upstreamName = name
            upstreamTLS = forward.upstreamTLS[name]
            target = Self.originForm(head.target)
        } else if head.method == "CONNECT", let targets = route.connectTargets {
            // The ambassador's sidecar: a tunnel straight to the external (TLS passes through,
            // end to end between the app and the external), never to the ambassador's HTTP server.
            let authority = head.target.lowercased()
            if targets[authority] != nil, let why = route.connectGuard?() {
                refusal = .answer(status: why.status, code: why.code, message: why.message,
                                  extraFields: why.retryAfter.map { "Retry-After: \($0)\r\n" } ?? "")
            } else if let external = targets[authority] {
                endpoints = EndpointSource([external])
                upstreamTLS = nil
                upstreamName = route.service
                connectTunnel = true
            } else {
                refusal = .answer(status: 403, code: "connect-denied",
                                  message: "this ambassador tunnels only to \(targets.keys.sorted().joined(separator: ", ")), not to `\(head.target.prefix(200))`",
                                  extraFields: "")
            }
        }
        let identity = clientIdentity(context)
        if identity == nil, peerIsTLS, refusal == nil {
            // Chained to the devmesh CA, but no (single) SPIFFE identity: not a workload of the mesh.
            refusal = .answer(status: 403, code: "no-identity",
                              message: "the client certificate carries no SPIFFE identity of this mesh", extraFields: "")
        }
        // The route's `auth` (API keys, Basic, a JWT), checked before the policies, as an authn step.
        var routeCaller: RouteCaller?
        if refusal == nil, let index = matchedRouteIndex, let auth = route.gateway?.auth[index] {
            switch auth.evaluate(head, target: target, resumed: routeAuth) {
            case .pass(let caller, let authEdits, let forwardedTarget):
                routeCaller = caller
                var merged = edits ?? HeaderEdits()
                merged.remove += authEdits.remove
                merged.add += authEdits.add
                edits = merged
                target = forwardedTarget
            case .refuse(let status, let code, let message, let challenge, let guess):
                if guess, let failures = route.gateway?.keyFailures, !failures.admit(clientAddress ?? "-").allowed {
                    // Guessing keys or passwords: a client that keeps sending wrong ones is slowed down.
                    refusal = .answer(status: 429, code: "credential-guessing", message: "too many wrong credentials from this client; wait a minute",
                                      extraFields: "Retry-After: 60\r\n")
                } else {
                    refusal = .answer(status: status, code: code, message: message, extraFields: "WWW-Authenticate: \(challenge)\r\n")
                }
            case .verifyPassword(let credentials, let user, let password):
                if let failures = route.gateway?.keyFailures, failures.isExhausted(clientAddress ?? "-") {
                    // Over its guessing budget: refused before any bcrypt work is spent on it.
                    refusal = .answer(status: 429, code: "credential-guessing", message: "too many wrong credentials from this client; wait a minute",
                                      extraFields: "Retry-After: 60\r\n")
                } else if !BasicCredentials.beginCheck() {
                    refusal = .answer(status: 503, code: "auth-busy", message: "too many passwords are being checked right now; retry in a second",
                                      extraFields: "Retry-After: 1\r\n")
                } else {
                    resumeAfter(head: head, headBytes: headBytes, context: context) {
                        defer { BasicCredentials.endCheck() }
                        return try await NIOThreadPool.singleton.runIfActive { .password(user: user, valid: credentials.verify(user: user, password: password)) }
                    }
                    return
                }
            case .verifyToken(let authenticator, let found):
                resumeAfter(head: head, headBytes: headBytes, context: context) { .token(await authenticator.verify(found)) }
                return
            }
        }
        var rawBody: String?
        var policyNote: PolicyNote?
        if refusal == nil, connectTunnel, let gate = route.authorization {
            // A tunnel carries TLS the mesh cannot read: the policies' TCP-level rules decide
            // (principals, addresses, ports), as Istio evaluates TLS passthrough to an egress.
            let (allowed, note) = gate.current.checkConnection(principal: identity?.principal, sourceIP: clientAddress)
            policyNote = note
            if !allowed {
                refusal = .answer(status: 403, code: "rbac-denied", message: "RBAC: access denied", extraFields: "")
                rawBody = "RBAC: access denied"
            }
        } else if refusal == nil, let gate = route.authorization {
            let authorization = authorizationInUse ?? gate.current
            switch authorization.check(head, target: policyTarget ?? target, targetIsNormalised: policyTarget != nil,
                                       principal: identity?.principal, sourceIP: clientAddress, authentication: authentication) {
            case .allow(let normalised, let tokenEdits, let note):
                // At the gateway the upstream gets the route's (rewritten) target instead.
                if policyTarget == nil { target = normalised }
                policyNote = note
                if let tokenEdits {
                    var merged = edits ?? HeaderEdits()
                    merged.remove += tokenEdits.remove
                    merged.add += tokenEdits.add
                    edits = merged
                }
            case .deny(let note):
                // Istio's answer, byte for byte: clients and tests written against the mesh see the same.
                refusal = .answer(status: 403, code: "rbac-denied", message: "RBAC: access denied", extraFields: "")
                rawBody = "RBAC: access denied"
                policyNote = note
            case .unauthenticated(let why, let note):
                refusal = .answer(status: 401, code: "jwt-invalid", message: why.description,
                                  extraFields: "WWW-Authenticate: \(why.challenge)\r\n")
                rawBody = why.description
                policyNote = note
            case .badRequest(let why):
                refusal = .answer(status: 400, code: "bad-path", message: why, extraFields: "")
            case .authenticate(let found):
                authenticate(found, with: authorization, head: head, headBytes: headBytes, context: context, routeAuth: routeAuth)
                return
            }
        }
        // Rate limits count requests the policies let through (Envoy's order: authn, RBAC, then
        // the limit), keyed by the client's address or its token's subject.
        if refusal == nil, let index = matchedRouteIndex, let limit = route.gateway?.rateLimits[index] {
            let key: String
            switch limit.by {
            case .jwtSub:
                key = policyNote?.requestPrincipal ?? routeCaller.flatMap { $0.kind == .tokenSubject ? $0.name : nil } ?? "ip " + (clientAddress ?? "-")
            case .key: key = routeCaller.map { "key " + $0.name } ?? "ip " + (clientAddress ?? "-")
            case .ip: key = clientAddress ?? "-"
            }
            let d = limit.admit(key)
            let fields = "RateLimit-Limit: \(d.limit)\r\nRateLimit-Remaining: \(d.remaining)\r\nRateLimit-Reset: \(d.resetSeconds)\r\n"
            if d.allowed {
                var merged = responseEdits ?? HeaderEdits()
                merged.remove += ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]
                merged.add += [("RateLimit-Limit", String(d.limit)), ("RateLimit-Remaining", String(d.remaining)),
                               ("RateLimit-Reset", String(d.resetSeconds))]
                responseEdits = merged
            } else {
                refusal = .answer(status: 429, code: "rate-limited",
                                  message: "over this route's limit of \(d.limit) requests per \(limit.periodText) for \(limit.by == .jwtSub ? "this token's subject" : limit.by == .key ? "this API key" : "this client"); retry in \(d.retryAfterSeconds)s",
                                  extraFields: fields + "Retry-After: \(d.retryAfterSeconds)\r\n")
            }
        }
        // The route's cache, after authentication, the policies and the limit: a stored answer is
        // still only for callers the route lets in, and counts against their limit.
        var cacheServe: ResponseCache.Entry?
        var cachePlan: CachePlan?
        var cacheBypassed = false
        /// An unsafe request on a cached route: its URL's stored answers go once it succeeds.
        var cacheInvalidates: ResponseCache.Key?
        if refusal == nil, let index = matchedRouteIndex, let gateway = route.gateway, let cache = gateway.cache,
           gateway.cachedRoutes.contains(index) {
            switch CacheStep.decide(cache, route: index, scheme: route.forwardedProto, service: upstreamName ?? "", head: head, target: target,
                                    edits: edits, authenticated: routeCaller != nil || policyNote?.requestPrincipal != nil,
                                    now: NIODeadline.now().uptimeNanoseconds) {
            case .serve(let entry):
                cacheServe = entry
            case .forward(let plan, let conditional):
                cachePlan = plan
                if !conditional.isEmpty {
                    var merged = edits ?? HeaderEdits()
                    merged.add += conditional
                    edits = merged
                }
            case .bypass(let why):
                cache.count(.bypass)
                cacheBypassed = true
                if !["GET", "HEAD", "OPTIONS", "TRACE"].contains(head.method) {
                    cacheInvalidates = ResponseCache.key(route: index, scheme: route.forwardedProto, host: head.host, target: target)
                }
                var merged = responseEdits ?? HeaderEdits()
                merged.add += [("x-devmesh-cache", CacheLabel.bypass.rawValue), ("x-devmesh-cache-detail", why)]
                responseEdits = merged
            case .unsatisfiable:
                refusal = .answer(status: 504, code: "not-cached", message: "only-if-cached, and no stored answer matches", extraFields: "")
            }
        }
        let incoming = head.value(of: .traceparent).flatMap(TraceContext.parse)
        let spanID = TraceIDGenerator().spanID(using: &rng)
        let trace = incoming ?? TraceContext(traceID: TraceIDGenerator().traceID(using: &rng), spanID: spanID)
        let exchange = Exchange(
            head: head, headBytes: headBytes, trace: trace, parentSpanID: incoming?.spanID, spanID: spanID,
            requestBody: BodyTracker(head.framing, limits: route.limits), startNanos: Self.wallNanos(),
            startUptime: .now())
        var forwarded = context.channel.allocator.buffer(capacity: head.headLength + 256)
        HeadWriter.request(head, source: headBytes, extras: .init(
            target: target, traceparent: trace.header(spanID: spanID),
            clientAddress: clientAddress, addVia: route.addVia, proto: route.forwardedProto,
            edge: route.role == .gateway, edits: edits, clientCert: identity.flatMap { xfcc(peer: $0) }), into: &forwarded)
        exchange.forwardedHead = forwarded
        exchange.endpoints = endpoints
        exchange.upstreamName = upstreamName
        exchange.upstreamTLS = upstreamTLS
        exchange.responseEdits = responseEdits
        exchange.sourcePrincipal = identity?.principal
        exchange.policyNote = policyNote
        exchange.routeCaller = routeCaller
        exchange.usageTarget = usageTarget
        exchange.connectTunnel = connectTunnel
        if let recording = route.recording, recordRoute.record, route.telemetry.isEnabled {
            exchange.capture = ExchangeCapture(head: head, limit: recording.maxBody, redact: recordRoute.redact)
        }
        if case .answer(let status, let code, let message, var extra) = refusal {
            // The route's CORS fields (for an allowed origin) go on devmesh's own answers too: a
            // browser app must be able to read its 401 or 429, not just see a CORS error.
            if let cors = corsEdits {
                let present = extra.lowercased()
                for (name, value) in cors.add + cors.append where !present.contains(name.lowercased() + ":") {
                    extra += "\(name): \(value)\r\n"
                }
            }
            self.exchange = exchange
            fail(exchange, status: status, code: code, message: message, extraFields: extra, rawBody: rawBody)
            return
        }
        if case .page(let page) = refusal {
            self.exchange = exchange
            answerPage(exchange, page)
            return
        }
        if let (aggregate, captures) = aggregatePlan {
            self.exchange = exchange
            runAggregate(exchange, aggregate, captures: captures, context: context)
            return
        }
        exchange.cachePlan = cachePlan
        exchange.cacheInvalidates = cacheInvalidates
        exchange.compression = compression
        if cacheBypassed { exchange.cacheLabel = .bypass }
        if let entry = cacheServe {
            self.exchange = exchange
            route.gateway?.cache?.count(.hit)
            answerFromCache(exchange, entry, label: .hit)
            return
        }
        exchange.retryable = head.isIdempotent && head.framing == .none && head.upgrade == nil
        // A chunked body that arrived with its head is checked before any upstream sees the head:
        // a smuggling payload almost always travels in the same packet, and then nothing reaches
        // the upstream at all. (Later bytes are checked as they stream.)
        if head.framing == .chunked, inbound.readableBytes > 0 {
            var probe = exchange.requestBody
            do {
                _ = try probe.consume(inbound)
            } catch {
                refuse(error)
                return
            }
        }
        self.exchange = exchange
        loop.budget.recordRequest(now: exchange.startUptime)
        dispatch(exchange)
    }

    /// Set while a token is verified off the event loop (its verdict was not cached).
    private var authenticating = false

    /// Verifies a token (signature checks run in jwt-kit's actors, not on the event loop), then
    /// starts the request again with the verdict, under the same policy set.
    private func authenticate(_ found: RequestAuthenticator.FoundToken, with authorization: InboundAuthorization,
                              head: HTTP1RequestHead, headBytes: ByteBuffer, context: ChannelHandlerContext, routeAuth: RouteAuthResult?) {
        guard let authenticator = authorization.authenticator else { return }
        authenticating = true
        context.eventLoop.makeFutureWithTask { await authenticator.verify(found) }
            .assumeIsolated()
            .whenComplete { [self] result in
                authenticating = false
                guard let context = self.context, !closing, case .success(let outcome) = result else { return }
                start(head, headBytes: headBytes, context: context, authentication: outcome, authorizationInUse: authorization,
                      routeAuth: routeAuth)
                resumeReading()
            }
    }

    /// Runs a route's slow authentication step (bcrypt, a token's signature) off the event loop,
    /// then starts the request again with its result. Reading pauses meanwhile (`authenticating`).
    private func resumeAfter(head: HTTP1RequestHead, headBytes: ByteBuffer, context: ChannelHandlerContext,
                             _ work: @escaping @Sendable () async throws -> RouteAuthResult) {
        authenticating = true
        context.eventLoop.makeFutureWithTask(work)
            .assumeIsolated()
            .whenComplete { [self] result in
                authenticating = false
                guard let context = self.context, !closing else { return }
                guard case .success(let outcome) = result else {
                    answerDirectly(status: 503, code: "auth-unavailable", message: "the credentials could not be checked now; try again")
                    return
                }
                start(head, headBytes: headBytes, context: context, routeAuth: outcome)
                resumeReading()
            }
    }

    private func resumeReading() {
        if readPausedForBuffer, inbound.readableBytes <= Self.maxBuffered {
            readPausedForBuffer = false
            setClientAutoRead()
        }
        process()
    }

    /// Sends the exchange to an endpoint: a pooled connection if there is one, else a new one.
    private func dispatch(_ exchange: Exchange) {
        guard let context else { return }
        let now = NIODeadline.now()
        guard let endpoint = loop.balancer.pick(from: (exchange.endpoints ?? route.endpoints).endpoints,
                                                excluding: exchange.failedEndpoint, now: now) else {
            fail(exchange, status: 503, code: "no-healthy-upstream",
                 message: "no healthy replica of \(exchange.upstreamName ?? route.upstreamName ?? route.service) to send this request to")
            return
        }
        exchange.attempts += 1
        exchange.endpoint = endpoint
        exchange.attemptStart = now
        loop.balancer.started(endpoint)
        armRequestTimer(exchange)
        if let conn = loop.pool.take(endpoint) {
            attach(conn, to: exchange)
            return
        }
        UpstreamConnector.connect(to: endpoint, on: context.eventLoop, timeout: Self.amount(route.timeouts.connect),
                                  tls: exchange.upstreamTLS) { UpstreamHandler() }
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                        channel.close(promise: nil)
                        connected(exchange, endpoint: endpoint, result: .failure(UpstreamHandler.SetupFailed()))
                        return
                    }
                    connected(exchange, endpoint: endpoint, result: .success((channel, handler)))
                case .failure(let error):
                    connected(exchange, endpoint: endpoint, result: .failure(error))
                }
            }
    }

    private func connected(_ exchange: Exchange, endpoint: Endpoint, result: Result<(any Channel, UpstreamHandler), any Error>) {
        guard self.exchange === exchange, !closing else {
            if case .success(let (channel, _)) = result { channel.close(promise: nil) }
            return
        }
        switch result {
        case .success(let (channel, handler)):
            let conn = UpstreamConnection(channel: channel, endpoint: endpoint)
            conn.pool = loop.pool
            handler.connection = conn
            attach(conn, to: exchange)
        case .failure(let error as UpstreamHandler.IdentityMismatch):
            upstreamFailed(exchange, endpoint: endpoint, sentNothing: true, code: "upstream-identity",
                           message: "\(endpoint) is not who it should be: \(error)")
        case .failure(let error as NIOSSLError):
            upstreamFailed(exchange, endpoint: endpoint, sentNothing: true, code: "upstream-tls",
                           message: "\(endpoint): mTLS handshake failed (\(error))")
        case .failure(let error as BoringSSLError):
            upstreamFailed(exchange, endpoint: endpoint, sentNothing: true, code: "upstream-tls",
                           message: "\(endpoint): mTLS handshake failed (\(error))")
        case .failure(let error):
            upstreamFailed(exchange, endpoint: endpoint, sentNothing: true, code: "upstream-refused",
                           message: "\(endpoint) refused the connection (\(Self.describe(error)))")
        }
    }

    private func attach(_ conn: UpstreamConnection, to exchange: Exchange) {
        conn.owner = self
        conn.uses += 1
        exchange.upstream = conn
        if exchange.connectTunnel, let context {
            var established = context.channel.allocator.buffer(capacity: 48)
            established.writeStaticString("HTTP/1.1 200 Connection Established\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(established), promise: nil)
            startTunnel(exchange, conn: conn, context: context, status: 200)
            return
        }
        conn.channel.write(exchange.forwardedHead, promise: nil)
        needsUpstreamFlush = true
        // With `Expect: 100-continue` the client waits for the upstream's 100 before sending the
        // body; the interim answer is forwarded like any other, so nothing special happens here.
        forwardRequestBody(exchange)
        flushUpstream()
        if !conn.channel.isWritable { pauseClientForUpstream(true) }
        // The body that waited for the connection has gone out: read the rest.
        if readPausedForBuffer, !exchange.requestComplete, inbound.readableBytes <= Self.maxBuffered {
            readPausedForBuffer = false
            setClientAutoRead()
        }
    }

    private func forwardRequestBody(_ exchange: Exchange) {
        guard let upstream = exchange.upstream, !exchange.requestComplete else { return }
        if exchange.requestBody.isDone {
            exchange.requestComplete = true
            return
        }
        guard inbound.readableBytes > 0 else { return }
        let n: Int
        do {
            n = try exchange.requestBody.consume(inbound)
        } catch {
            // The framing broke mid-body: the upstream has a partial request; both go.
            upstream.close()
            exchange.upstream = nil
            fail(exchange, status: 400, code: "bad-request", message: error.detail, forceClose: true)
            return
        }
        if n > 0 {
            let slice = inbound.readSlice(length: n)!
            upstream.channel.write(slice, promise: nil)
            needsUpstreamFlush = true
            exchange.bytesIn += UInt64(n)
            exchange.capture?.requestBody(slice)
        }
        if exchange.requestBody.isDone { exchange.requestComplete = true }
    }

    private func flushUpstream() {
        guard needsUpstreamFlush else { return }
        needsUpstreamFlush = false
        if let upstream = tunnel ?? exchange?.upstream { upstream.channel.flush() }
    }

    // MARK: - Upstream side

    func upstreamRead(_ conn: UpstreamConnection, _ bytes: ByteBuffer) {
        guard let context else { return }
        if tunnel === conn {
            context.write(wrapOutboundOut(bytes), promise: nil)
            return
        }
        guard let exchange, exchange.upstream === conn else {
            conn.close()
            return
        }
        var bytes = bytes
        exchange.responseStarted = true
        while bytes.readableBytes > 0 {
            if let tracker = exchange.responseBody {
                var t = tracker
                let n: Int
                do {
                    n = try t.consume(bytes)
                } catch {
                    exchange.responseBody = t
                    conn.close()
                    abortClient(exchange, error: "upstream-bad-framing")
                    return
                }
                exchange.responseBody = t
                if n > 0 {
                    let slice = bytes.readSlice(length: n)!
                    exchange.capture?.responseBody(slice)
                    if !exchange.answeredFromCache {
                        exchange.cacheFill?.append(slice)
                        if let gzip = exchange.gzip {
                            writeCompressed(exchange, gzip, slice, last: t.isDone, context: context)
                        } else {
                            context.write(wrapOutboundOut(slice), promise: nil)
                            exchange.bytesOut += UInt64(n)
                        }
                    }
                } else if t.isDone, let gzip = exchange.gzip {
                    writeCompressed(exchange, gzip, ByteBuffer(), last: true, context: context)
                }
                if t.isDone {
                    if bytes.readableBytes > 0 { conn.broken = true }  // bytes beyond the response: never reuse
                    completeExchange(exchange)
                    return
                }
                continue
            }
            if exchange.responseBuffer.readableBytes == 0 {
                exchange.responseBuffer = bytes
                bytes.moveReaderIndex(forwardBy: bytes.readableBytes)
            } else {
                exchange.responseBuffer.writeBuffer(&bytes)
            }
            let result = exchange.responseBuffer.withUnsafeReadableBytes {
                responseParser.parse($0, requestMethod: exchange.head.method)
            }
            switch result {
            case .incomplete:
                return
            case .invalid(let violation):
                conn.close()
                exchange.upstream = nil
                fail(exchange, status: 502, code: "upstream-bad-response",
                     message: "\(conn.endpoint) answered with an invalid response: \(violation.detail)")
                return
            case .complete(let head):
                let headBytes = exchange.responseBuffer.readSlice(length: head.headLength)!
                bytes = exchange.responseBuffer
                exchange.responseBuffer.clear()
                respond(exchange, head: head, headBytes: headBytes, conn: conn, context: context)
                if exchange.responseHead == nil { continue }  // an interim 1xx: the final head follows
                if tunnel === conn {
                    if bytes.readableBytes > 0 { context.write(wrapOutboundOut(bytes), promise: nil) }
                    return
                }
                if exchange.responseBody?.isDone == true {
                    if bytes.readableBytes > 0 { conn.broken = true }
                    completeExchange(exchange)
                    return
                }
            }
        }
    }

    private func respond(_ exchange: Exchange, head: HTTP1ResponseHead, headBytes: ByteBuffer, conn: UpstreamConnection,
                         context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: head.headLength + 64)
        if head.isInterim {
            HeadWriter.response(head, source: headBytes, clientMinorVersion: exchange.head.minorVersion, keepAlive: true,
                                addVia: route.addVia, into: &out)
            context.write(wrapOutboundOut(out), promise: nil)
            return
        }
        exchange.requestDeadline = nil
        exchange.responseHead = head
        if head.status == 101, exchange.head.upgrade != nil {
            HeadWriter.response(head, source: headBytes, clientMinorVersion: exchange.head.minorVersion, keepAlive: true,
                                addVia: route.addVia, into: &out)
            context.write(wrapOutboundOut(out), promise: nil)
            startTunnel(exchange, conn: conn, context: context)
            return
        }
        if exchange.head.method == "CONNECT", (200..<300).contains(head.status) {
            // The next hop opened the tunnel: from here on both directions are bytes.
            out.writeStaticString("HTTP/1.1 200 Connection Established\r\n\r\n")
            context.write(wrapOutboundOut(out), promise: nil)
            startTunnel(exchange, conn: conn, context: context, status: head.status)
            return
        }
        if !head.keepAlive { conn.broken = true }
        exchange.keepClientAlive = exchange.head.keepAlive && head.framing != .untilClose
            && !(exchange.head.minorVersion == 0 && head.framing == .chunked)
        var responseEdits = exchange.responseEdits
        if let key = exchange.cacheInvalidates, head.status < 400, let cache = route.gateway?.cache {
            cache.invalidate(key)
        }
        if let plan = exchange.cachePlan {
            if head.status == 304, let candidate = plan.candidate {
                // The stored answer is still good: the client gets it, not the 304.
                let updated = plan.cache.revalidated(plan.key, candidate, with: head.fields, now: NIODeadline.now().uptimeNanoseconds,
                                                     wallSeconds: Int64(Self.wallNanos() / 1_000_000_000))
                plan.cache.count(.revalidated)
                exchange.responseBody = BodyTracker(head.framing, limits: route.limits)
                writeCached(exchange, updated, label: .revalidated, close: !exchange.keepClientAlive, context: context)
                return
            }
            plan.cache.count(.miss)
            exchange.cacheLabel = .miss
            var detail: String?
            let pairs = head.fields.map { (name: $0.name, value: $0.value) }
            switch CacheRules.response(status: head.status, fields: pairs, requestHadCredentials: plan.credentials,
                                       now: Int64(Self.wallNanos() / 1_000_000_000)) {
            case .success(let rules) where exchange.head.method == "GET" && head.framing != .untilClose:
                exchange.cacheFill = CacheFill(
                    plan: plan, status: head.status, reason: head.reason, fields: head.fields.filter { !ResponseCache.isUnstored($0.name) },
                    rules: rules, varyValues: rules.vary.map { CacheRules.varyValue(plan.forwarded, $0) }, chunked: head.framing == .chunked)
            case .success:
                detail = exchange.head.method == "GET" ? "a body delimited by closing the connection is not stored" : "only answers to GET are stored"
            case .failure(let why):
                detail = why.reason
            }
            var merged = responseEdits ?? HeaderEdits()
            merged.remove += ["x-devmesh-cache", "x-devmesh-cache-detail"]
            merged.add.append(("x-devmesh-cache", CacheLabel.miss.rawValue))
            if let detail { merged.add.append(("x-devmesh-cache-detail", "not stored: " + detail)) }
            responseEdits = merged
        }
        if let compression = exchange.compression {
            var length: Int?
            if case .length(let n) = head.framing { length = Int(clamping: n) }
            let decision = ResponseCompression.decide(
                method: exchange.head.method, status: head.status, acceptEncoding: exchange.head.fields.filter { $0.name.caseInsensitiveEquals("accept-encoding") }.map(\.value),
                fields: head.fields.map { (name: $0.name, value: $0.value) }, contentLength: length, minSize: compression.minSize)
            var merged = responseEdits ?? HeaderEdits()
            switch decision {
            // Streamed as gzip in chunks: only a body of known length (a chunked one is sent as it
            // comes), and only to HTTP/1.1 clients (HTTP/1.0 has no chunked framing).
            case .compress where length != nil && exchange.head.minorVersion == 1:
                if let gzip = GzipStream() {
                    exchange.gzip = gzip
                    merged.remove += ["Content-Length", "ETag"]
                    merged.add += [("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]
                    if let etag = head.fields.first("ETag") { merged.add.append(("ETag", ResponseCompression.weakened(etag: etag))) }
                }
                merged.append.append(("Vary", "Accept-Encoding"))
            case .compress, .asIs(varies: true):
                merged.append.append(("Vary", "Accept-Encoding"))
            case .asIs(varies: false):
                break
            }
            responseEdits = merged.isEmpty ? responseEdits : merged
        }
        HeadWriter.response(head, source: headBytes, clientMinorVersion: exchange.head.minorVersion,
                            keepAlive: exchange.keepClientAlive, addVia: route.addVia, edits: responseEdits, into: &out)
        exchange.bytesOut += UInt64(out.readableBytes)
        context.write(wrapOutboundOut(out), promise: nil)
        exchange.responseBody = BodyTracker(head.framing, limits: route.limits)
        exchange.capture?.responseHead(head)
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(_ conn: UpstreamConnection, writable: Bool) {
        pauseClientForUpstream(!writable)
    }

    func upstreamClosed(_ conn: UpstreamConnection) {
        if tunnel === conn {
            tunnel = nil
            context?.close(promise: nil)
            return
        }
        guard let exchange, exchange.upstream === conn else { return }
        exchange.upstream = nil
        if let body = exchange.responseBody {
            if case .untilClose = body.mode {
                exchange.keepClientAlive = false
                completeExchange(exchange)
            } else {
                abortClient(exchange, error: "upstream-reset")
            }
            return
        }
        if exchange.responseStarted, exchange.responseHead != nil {
            abortClient(exchange, error: "upstream-reset")
            return
        }
        // Closed before answering. On a reused connection that is the classic keep-alive race.
        if let failure = conn.failure, failure is NIOSSLError || failure is BoringSSLError {
            // With TLS 1.3 a refused client certificate shows only after the request was sent.
            upstreamFailed(exchange, endpoint: conn.endpoint, sentNothing: false, code: "upstream-tls",
                           message: "\(conn.endpoint) refused the mTLS connection (\(failure))")
            return
        }
        upstreamFailed(exchange, endpoint: conn.endpoint, sentNothing: false, code: "upstream-reset",
                       message: "\(conn.endpoint) closed the connection before answering")
    }

    /// Connect failure or reset before any answer: retry when safe and allowed, else 502.
    private func upstreamFailed(_ exchange: Exchange, endpoint: Endpoint, sentNothing: Bool, code: String, message: String) {
        let now = NIODeadline.now()
        loop.balancer.finished(endpoint, latencyNanos: Self.elapsed(exchange.attemptStart, now), failed: true, now: now)
        exchange.requestDeadline = nil
        let safe = sentNothing ? !exchange.bodyConsumed : exchange.retryable
        if safe, exchange.attempts <= route.retries.attempts, loop.budget.tryRetry(now: now) {
            exchange.failedEndpoint = endpoint
            exchange.responseBuffer.clear()
            exchange.responseStarted = false
            dispatch(exchange)
            return
        }
        fail(exchange, status: 502, code: code, message: message, countedInBalancer: true)
    }

    // MARK: - Ends of an exchange

    private func completeExchange(_ exchange: Exchange) {
        guard let context else { return }
        exchange.requestDeadline = nil
        let now = NIODeadline.now()
        let status = exchange.responseHead?.status ?? 0
        // The answer arrived whole (an empty one too): store it.
        if let fill = exchange.cacheFill {
            exchange.cacheFill = nil
            fill.finish(now: now.uptimeNanoseconds)
        }
        if let endpoint = exchange.endpoint {
            loop.balancer.finished(endpoint, latencyNanos: Self.elapsed(exchange.attemptStart, now), failed: status >= 500, now: now)
        }
        if let conn = exchange.upstream {
            conn.owner = nil
            exchange.upstream = nil
            if exchange.requestComplete, conn.isReusable {
                // The last bytes may have gone out while this client was not writable: the next
                // exchange on this connection must find it reading again.
                if conn.readPaused {
                    conn.readPaused = false
                    conn.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                    conn.channel.read()
                }
                loop.pool.put(conn)
            } else {
                conn.close()
            }
        }
        finishTelemetry(exchange, status: exchange.clientStatus ?? status, error: nil)
        self.exchange = nil
        // Reading from this client may have been paused for that upstream: its writability
        // callbacks no longer reach this handler, so resume here.
        if readPausedForUpstream { pauseClientForUpstream(false) }
        // The upstream's read-complete no longer reaches us (the connection left the exchange).
        context.flush()
        if !exchange.requestComplete || !exchange.keepClientAlive {
            closing = true
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        if readPausedForBuffer {
            readPausedForBuffer = false
            setClientAutoRead()
        }
        armIdleTimer()
        process()
    }

    /// devmesh answers itself (no upstream answer to forward).
    private func fail(_ exchange: Exchange, status: Int, code: String?, message: String, forceClose: Bool = false,
                      countedInBalancer: Bool = false, extraFields: String = "", rawBody: String? = nil) {
        guard let context else { return }
        exchange.requestDeadline = nil
        if !countedInBalancer, let endpoint = exchange.endpoint, exchange.upstream != nil || status == 504 {
            loop.balancer.finished(endpoint, latencyNanos: Self.elapsed(exchange.attemptStart, .now()), failed: true, now: .now())
        }
        if let conn = exchange.upstream {
            conn.owner = nil
            conn.close()
            exchange.upstream = nil
        }
        if exchange.responseStarted && exchange.responseHead != nil {
            abortClient(exchange, error: code ?? "aborted")
            return
        }
        // The service could not answer, but an answer of it is stored: better the last good one.
        if [502, 503, 504].contains(status), let plan = exchange.cachePlan, let stale = plan.candidate, !stale.rules.neverStale {
            plan.cache.count(.stale)
            exchange.cacheError = code
            answerFromCache(exchange, stale, label: .stale)
            return
        }
        // Without the rest of the request body we cannot find the next request: close then.
        let close = forceClose || !exchange.head.keepAlive || !exchange.requestBody.isDone
        var out = context.channel.allocator.buffer(capacity: 256)
        ErrorResponse.write(status: status, code: code, message: message, close: close, extraFields: extraFields, rawBody: rawBody, into: &out)
        exchange.bytesOut += UInt64(out.readableBytes)
        exchange.capture?.ownAnswer(out, limits: route.limits)
        context.write(wrapOutboundOut(out), promise: nil)
        endOwnAnswer(exchange, status: status, error: code, close: close, context: context)
    }

    /// A slice of the answer as gzip in a chunk; the last one ends the gzip stream and the chunks.
    private func writeCompressed(_ exchange: Exchange, _ gzip: GzipStream, _ slice: ByteBuffer, last: Bool, context: ChannelHandlerContext) {
        var compressed = context.channel.allocator.buffer(capacity: slice.readableBytes / 2 + 64)
        gzip.compress(slice, finish: last, into: &compressed)
        var out = context.channel.allocator.buffer(capacity: compressed.readableBytes + 16)
        GzipStream.chunk(compressed, into: &out)
        if last {
            out.writeString("0\r\n\r\n")
            exchange.gzip = nil
        }
        guard out.readableBytes > 0 else { return }
        exchange.bytesOut += UInt64(out.readableBytes)
        context.write(wrapOutboundOut(out), promise: nil)
    }

    /// An aggregate route: every call at once (each on its own connection, mTLS to the sidecar,
    /// its own timeout and client span), then the JSON answers merged under their names.
    private func runAggregate(_ exchange: Exchange, _ aggregate: AggregateRoute, captures: [String: String], context: ChannelHandlerContext) {
        guard let gateway = route.gateway else { return }
        let eventLoop = context.eventLoop
        exchange.requestDeadline = nil
        var futures: [EventLoopFuture<(Int, AggregateRoute.Outcome)>] = []
        for (i, call) in aggregate.calls.enumerated() {
            let path = PathPattern.fill(call.path, captures)
            let spanID = TraceIDGenerator().spanID(using: &rng)
            let startNanos = Self.wallNanos()
            let started = NIODeadline.now()
            let record: (Int, String?, Endpoint?) -> Void = { [route] status, error, endpoint in
                guard route.telemetry.isEnabled else { return }
                let end = Self.wallNanos()
                route.telemetry.record(hop: HopRecord(
                    listener: "egress", service: route.service, instance: nil, upstreamName: call.service,
                    traceID: exchange.trace.traceID, spanID: spanID, parentSpanID: exchange.spanID, method: "GET", target: path,
                    host: call.service, userAgent: nil, minorVersion: 1, status: status, error: error, startNanos: startNanos,
                    durationNanos: end > startNanos ? end - startNanos : 0, endpointName: endpoint?.name, endpointHost: endpoint?.host,
                    endpointPort: endpoint?.port, attempts: 1, bytesIn: 0, bytesOut: 0))
            }
            guard let endpoint = loop.balancer.pick(from: gateway.services[call.service]?.endpoints ?? [], excluding: nil, now: started) else {
                record(503, "no-healthy-upstream", nil)
                futures.append(eventLoop.makeSucceededFuture((i, .failed(status: 503, why: "no healthy replica of \(call.service)"))))
                continue
            }
            var request = ByteBuffer()
            request.writeString("GET \(path) HTTP/1.1\r\nHost: \(call.service)\r\nAccept: application/json\r\nUser-Agent: devmesh-gateway\r\n")
            request.writeString("traceparent: \(exchange.trace.header(spanID: spanID))\r\nConnection: close\r\n\r\n")
            // Isolated: `record` and the exchange belong to this event loop, which the answers arrive on.
            let future = Subrequest.send(request, to: endpoint, tls: gateway.upstreamTLS[call.service], timeout: call.timeout, on: eventLoop)
                .assumeIsolated()
                .map { answer -> (Int, AggregateRoute.Outcome) in
                    record(answer.status, nil, endpoint)
                    return (i, .answered(status: answer.status, body: answer.body))
                }
                .flatMapError { error -> EventLoopFuture<(Int, AggregateRoute.Outcome)> in
                    let timedOut: Bool
                    if case Subrequest.Failure.timedOut = error { timedOut = true } else { timedOut = false }
                    record(timedOut ? 504 : 502, timedOut ? "upstream-timeout" : "upstream-failed", endpoint)
                    return eventLoop.makeSucceededFuture((i, .failed(status: timedOut ? 504 : 502, why: "\(error)")))
                }
                .nonisolated()
            futures.append(future)
        }
        EventLoopFuture.whenAllSucceed(futures, on: eventLoop).assumeIsolated().whenComplete { [self] result in
            guard self.exchange === exchange, let context = self.context, case .success(let outcomes) = result else { return }
            let sorted = outcomes.sorted { $0.0 < $1.0 }.map { (name: aggregate.calls[$0.0].name, outcome: $0.1) }
            let merged = AggregateRoute.merge(sorted)
            let close = !exchange.head.keepAlive || !exchange.requestBody.isDone
            var out = context.channel.allocator.buffer(capacity: merged.body.count + 400)
            out.writeString("HTTP/1.1 \(merged.status) \(merged.status == 200 ? "OK" : "Bad Gateway")\r\nContent-Type: application/json\r\n")
            out.writeString("Content-Length: \(merged.body.count)\r\nCache-Control: no-store\r\n")
            if !merged.partial.isEmpty { out.writeString("x-devmesh-partial: \(merged.partial.joined(separator: ", "))\r\n") }
            if let edits = exchange.responseEdits {
                for (name, value) in edits.add + edits.append { out.writeString("\(name): \(value)\r\n") }
            }
            Self.writeConnectionField(close: close, exchange, into: &out)
            out.writeString("\r\n")
            if exchange.head.method != "HEAD" { out.writeBytes(merged.body) }
            exchange.bytesOut += UInt64(out.readableBytes)
            exchange.capture?.ownAnswer(out, limits: route.limits)
            context.write(wrapOutboundOut(out), promise: nil)
            endOwnAnswer(exchange, status: merged.status, error: merged.status == 502 ? "aggregate-failed" : nil, close: close, context: context)
        }
    }

    /// One of the gateway's own pages.
    private func answerPage(_ exchange: Exchange, _ page: StaticPages.Page) {
        guard let context else { return }
        exchange.requestDeadline = nil
        let close = !exchange.head.keepAlive || !exchange.requestBody.isDone
        var out = context.channel.allocator.buffer(capacity: page.body.count + 400)
        out.writeString("HTTP/1.1 200 OK\r\nContent-Type: \(page.contentType)\r\nContent-Length: \(page.body.count)\r\n")
        out.writeString("Content-Security-Policy: \(APIDocsPage.contentSecurityPolicy)\r\nX-Content-Type-Options: nosniff\r\n")
        out.writeString("Referrer-Policy: no-referrer\r\nCache-Control: no-cache\r\n")
        Self.writeConnectionField(close: close, exchange, into: &out)
        out.writeString("\r\n")
        if exchange.head.method != "HEAD" { out.writeBytes(page.body) }
        exchange.bytesOut += UInt64(out.readableBytes)
        context.write(wrapOutboundOut(out), promise: nil)
        endOwnAnswer(exchange, status: 200, error: nil, close: close, context: context)
    }

    /// A stored answer, without the service (fresh, or stale because the service failed).
    private func answerFromCache(_ exchange: Exchange, _ entry: ResponseCache.Entry, label: CacheLabel) {
        guard let context else { return }
        exchange.requestDeadline = nil
        let close = !exchange.head.keepAlive || !exchange.requestBody.isDone
        writeCached(exchange, entry, label: label, close: close, context: context)
        endOwnAnswer(exchange, status: entry.status, error: nil, close: close, context: context)
    }

    private func writeCached(_ exchange: Exchange, _ entry: ResponseCache.Entry, label: CacheLabel, close: Bool,
                             context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: entry.body.count + 512)
        CacheStep.write(entry, label: label, now: NIODeadline.now().uptimeNanoseconds, headOnly: exchange.head.method == "HEAD",
                        close: close, clientMinorVersion: exchange.head.minorVersion, keepAliveOn10: exchange.head.keepAlive,
                        addVia: route.addVia, edits: exchange.responseEdits, compression: exchange.compression,
                        acceptEncoding: exchange.head.fields.filter { $0.name.caseInsensitiveEquals("accept-encoding") }.map(\.value),
                        into: &out)
        exchange.answeredFromCache = true
        exchange.cacheLabel = label
        exchange.clientStatus = entry.status
        exchange.bytesOut += UInt64(out.readableBytes)
        exchange.capture?.ownAnswer(out, limits: route.limits)
        context.write(wrapOutboundOut(out), promise: nil)
    }

    /// The end of an answer devmesh wrote itself (an error, a stored answer, a page, a merged
    /// aggregate): telemetry, then the connection closed or ready for the next request.
    private func endOwnAnswer(_ exchange: Exchange, status: Int, error: String?, close: Bool, context: ChannelHandlerContext) {
        finishTelemetry(exchange, status: status, error: error)
        self.exchange = nil
        if close {
            closing = true
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            context.flush()
            armIdleTimer()
            process()
        }
    }

    /// `Connection` of an answer devmesh writes itself: `close`, or `keep-alive` for an HTTP/1.0
    /// client that asked to keep it (HTTP/1.1 keeps it by default).
    static func writeConnectionField(close: Bool, _ exchange: Exchange, into out: inout ByteBuffer) {
        if close {
            out.writeString("Connection: close\r\n")
        } else if exchange.head.minorVersion == 0 {
            out.writeString("Connection: keep-alive\r\n")
        }
    }

    /// The response was already under way when it broke: the client can only learn by the close.
    private func abortClient(_ exchange: Exchange, error: String) {
        exchange.capture?.responseIncomplete = true
        exchange.upstream?.close()
        exchange.upstream = nil
        finishTelemetry(exchange, status: exchange.responseHead?.status ?? 502, error: error)
        self.exchange = nil
        closing = true
        context?.flush()
        context?.close(promise: nil)
    }

    private func startTunnel(_ exchange: Exchange, conn: UpstreamConnection, context: ChannelHandlerContext, status: Int = 101) {
        conn.broken = true  // never pooled again
        tunnel = conn
        if let endpoint = exchange.endpoint {
            // The exchange ends here for the balancer too: the tunnel is not a request in flight.
            let now = NIODeadline.now()
            loop.balancer.finished(endpoint, latencyNanos: Self.elapsed(exchange.attemptStart, now), failed: false, now: now)
        }
        finishTelemetry(exchange, status: status, error: nil)
        self.exchange = nil
        timer?.cancel()
        if inbound.readableBytes > 0 {
            conn.channel.writeAndFlush(inbound.readSlice(length: inbound.readableBytes)!, promise: nil)
        }
        // What the client sent before the switch is on its way: read again (the buffer limit
        // that paused reading belongs to requests, not to a tunnel's bytes).
        if readPausedForBuffer {
            readPausedForBuffer = false
            setClientAutoRead()
        }
    }

    // MARK: - Flow control and timers

    private func pauseClientForUpstream(_ pause: Bool) {
        guard readPausedForUpstream != pause else { return }
        readPausedForUpstream = pause
        setClientAutoRead()
    }

    private func setClientAutoRead() {
        guard let context else { return }
        let on = !readPausedForUpstream && !readPausedForBuffer
        context.channel.setOption(ChannelOptions.autoRead, value: on).whenComplete { _ in }
        if on { context.read() }
    }

    /// Timeouts without a timer per request: each state sets a deadline, and one scheduled task
    /// per connection fires at the earliest of them (or earlier: then it just re-arms). Under
    /// steady keep-alive traffic that is one timer per 30s per connection instead of two per request.
    private var headDeadline: NIODeadline?
    private var idleDeadline: NIODeadline?
    private var timerFireAt: NIODeadline?

    private func armIdleTimer() {
        headDeadline = nil
        idleDeadline = .now() + Self.amount(route.timeouts.idle)
        ensureTimer(idleDeadline!)
    }

    /// Slowloris: a head must be complete within `requestHead` of its first byte.
    private func armHeadTimer() {
        guard exchange == nil, headDeadline == nil else { return }
        headDeadline = .now() + Self.amount(route.timeouts.requestHead)
        ensureTimer(headDeadline!)
    }

    private func armRequestTimer(_ exchange: Exchange) {
        headDeadline = nil
        idleDeadline = nil
        exchange.requestDeadline = .now() + Self.amount(route.timeouts.request)
        ensureTimer(exchange.requestDeadline!)
    }

    private func ensureTimer(_ deadline: NIODeadline) {
        guard let context else { return }
        if let fireAt = timerFireAt, fireAt <= deadline { return }
        timer?.cancel()
        timerFireAt = deadline
        // A strong capture (the task is cancelled when the connection goes): a weak one would give
        // the handler a side table and slow every retain/release of it.
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        timerFireAt = nil
        guard let context, !closing else { return }
        let now = NIODeadline.now()
        if let exchange {
            if exchange.responseHead == nil, let due = exchange.requestDeadline {
                if due <= now {
                    let target = exchange.endpoint.map { "\($0)" } ?? "the upstream"
                    fail(exchange, status: 504, code: "upstream-timeout",
                         message: "\(target) did not answer within \(DurationParser.format(route.timeouts.request))")
                } else {
                    ensureTimer(due)
                }
            }
            return
        }
        if tunnel != nil { return }
        if inbound.readableBytes > 0, let due = headDeadline {
            if due <= now {
                var out = context.channel.allocator.buffer(capacity: 128)
                ErrorResponse.write(status: 408, code: "request-timeout", message: "the request head did not arrive in time", close: true, into: &out)
                closing = true
                context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            } else {
                ensureTimer(due)
            }
            return
        }
        if let due = idleDeadline {
            if due <= now {
                closing = true
                context.close(promise: nil)
            } else {
                ensureTimer(due)
            }
        }
    }

    // MARK: - Telemetry

    private func finishTelemetry(_ exchange: Exchange, status: Int, error: String?) {
        if let usage = route.gateway?.usage, let target = exchange.usageTarget {
            exchange.usageTarget = nil  // counted once
            let end = NIODeadline.now()
            var caller: (kind: String, name: String)?
            if let c = exchange.routeCaller {
                caller = (c.kind == .apiKey ? "key" : c.kind == .basicUser ? "user" : "subject", c.name)
            } else if let principal = exchange.policyNote?.requestPrincipal {
                caller = ("subject", principal)
            }
            usage.record(target, caller: caller, status: status, error: error, nanos: Self.elapsed(exchange.startUptime, end),
                         cacheHit: exchange.cacheLabel == .hit || exchange.cacheLabel == .revalidated)
        }
        guard !exchange.recorded, route.telemetry.isEnabled else { return }
        exchange.recorded = true
        // Overload: the store's queue is full, so these records would be built only to be dropped.
        if route.telemetry.isSaturated {
            route.telemetry.recordSkipped()
            exchange.capture = nil
            return
        }
        let end = Self.wallNanos()
        let head = exchange.head
        route.telemetry.record(hop: HopRecord(
            listener: route.role.rawValue, service: route.service, instance: route.instance,
            upstreamName: exchange.upstreamName ?? route.upstreamName,
            traceID: exchange.trace.traceID, spanID: exchange.spanID, parentSpanID: exchange.parentSpanID,
            method: head.method, target: head.target, host: head.host, userAgent: head.value(of: .userAgent),
            minorVersion: head.minorVersion, status: status, error: error, startNanos: exchange.startNanos,
            durationNanos: end > exchange.startNanos ? end - exchange.startNanos : 0,
            endpointName: exchange.endpoint?.name, endpointHost: exchange.endpoint?.host, endpointPort: exchange.endpoint?.port,
            attempts: exchange.attempts, bytesIn: exchange.bytesIn, bytesOut: exchange.bytesOut,
            sourcePrincipal: exchange.sourcePrincipal, policy: exchange.policyNote,
            apiKey: exchange.routeCaller?.kind == .apiKey ? exchange.routeCaller?.name : nil,
            cache: exchange.cacheLabel.map { label in exchange.cacheError.map { "\(label.rawValue) (\($0))" } ?? label.rawValue },
            user: exchange.routeCaller.flatMap { $0.kind == .apiKey ? nil : $0.name }))
        if let capture = exchange.capture {
            exchange.capture = nil
            // A body that did not arrive whole (refused before it was read, a client that left)
            // is marked cut, so no replay takes it for the whole body.
            if !exchange.requestBody.isDone {
                var declared = 0
                if case .length(let n) = exchange.head.framing { declared = Int(clamping: n) }
                capture.request.wireSize = max(capture.request.wireSize + 1, declared)
            }
            route.telemetry.record(capture: capture.captured(
                exchange, route: route, status: exchange.responseHead == nil && capture.status == nil ? nil : status,
                durationNanos: end > exchange.startNanos ? end - exchange.startNanos : 0,
                source: exchange.sourcePrincipal ?? clientAddress))
        }
    }

    // MARK: - Identity

    /// The client's workload identity when the connection is mTLS (the TLS handler sits on this
    /// channel, or on the parent connection of an HTTP/2 stream). Read once per connection.
    private func clientIdentity(_ context: ChannelHandlerContext) -> SPIFFEID? {
        if peerChecked { return peer }
        peerChecked = true
        let channel = isHTTP2Stream ? (context.channel.parent ?? context.channel) : context.channel
        if let tls = try? channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) {
            // Only mesh listeners ask for client certificates; at the edge there is none.
            if let cert = tls.peerCertificate {
                peerIsTLS = true
                peer = TLSConfigurations.peerIdentity(cert)
            }
        }
        return peer
    }

    /// Envoy's `x-forwarded-client-cert` (`By=` this sidecar, `URI=` the caller).
    private func xfcc(peer: SPIFFEID) -> String {
        if let me = route.localIdentity { return "By=\(me.uri);URI=\(peer.uri)" }
        return "URI=\(peer.uri)"
    }

    // MARK: - Helpers

    /// An answer from devmesh before any exchange exists (forward-proxy refusals); closes after.
    private func answerDirectly(status: Int, code: String, message: String) {
        guard let context else { return }
        var out = context.channel.allocator.buffer(capacity: 256)
        ErrorResponse.write(status: status, code: code, message: message, close: true, into: &out)
        closing = true
        context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// The target without every `name=…` pair of its query.
    static func removingQueryParameter(_ name: String, from target: String) -> String {
        guard let q = target.firstIndex(of: "?") else { return target }
        let kept = target[target.index(after: q)...].split(separator: "&").filter { pair in
            pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0] != name
        }
        return String(target[..<q]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
    }

    /// The first value of a query parameter (percent-decoded), or nil.
    static func queryValue(_ target: String, _ name: String) -> String? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        for pair in target[target.index(after: q)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts[0] == name { return parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : "" }
        }
        return nil
    }

    /// `http://users:80/a?b` → `/a?b` (an HTTP_PROXY client sends absolute-form).
    static func originForm(_ target: String) -> String {
        guard let scheme = target.range(of: "://") else { return target }
        let rest = target[scheme.upperBound...]
        guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
        let path = String(rest[slash...])
        return path.hasPrefix("?") ? "/" + path : path
    }

    static func wallNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func elapsed(_ from: NIODeadline, _ to: NIODeadline) -> UInt64 {
        to.uptimeNanoseconds &- from.uptimeNanoseconds
    }

    static func amount(_ d: Duration) -> TimeAmount {
        .nanoseconds(Int64(d.components.seconds) * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
    }

    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return io.description }
        return "\(error)"
    }
}

/// One request/response through the proxy.
final class Exchange {
    let head: HTTP1RequestHead
    let headBytes: ByteBuffer
    let trace: TraceContext
    let parentSpanID: String?
    let spanID: String
    var requestBody: BodyTracker
    let startNanos: UInt64
    let startUptime: NIODeadline
    var forwardedHead = ByteBuffer()
    /// Set by forward-proxy listeners: the endpoints and name of the upstream this request named.
    var endpoints: EndpointSource?
    var upstreamName: String?
    var retryable = false
    var attempts = 0
    var attemptStart: NIODeadline
    var endpoint: Endpoint?
    var failedEndpoint: Endpoint?
    var upstream: UpstreamConnection?
    var requestComplete = false
    var responseBuffer = ByteBuffer()
    var responseHead: HTTP1ResponseHead?
    var responseBody: BodyTracker?
    var responseStarted = false
    var keepClientAlive = false
    var bytesIn: UInt64 = 0
    var bytesOut: UInt64 = 0
    /// When the response head is due (nil once it arrived).
    var requestDeadline: NIODeadline?
    var recorded = false
    var upstreamTLS: UpstreamTLS?
    /// A `CONNECT` answered here with 200 once the external is connected, then relayed as bytes.
    var connectTunnel = false
    var responseEdits: HeaderEdits?
    var sourcePrincipal: String?
    var policyNote: PolicyNote?
    /// Set when this exchange is recorded for replay.
    var capture: ExchangeCapture?
    /// The name of the route's API key the request carried.
    /// Who the route's `auth` found the caller to be (a key's name, a user, a token's subject).
    var routeCaller: RouteCaller?
    /// Set on routes with `cache: true` when the request goes to the service.
    var cachePlan: CachePlan?
    /// The answer being stored as it streams.
    var cacheFill: CacheFill?
    /// An unsafe request's URL, whose stored answers go when it succeeds.
    var cacheInvalidates: ResponseCache.Key?
    /// The client got a stored answer (the upstream's answer, a 304, is not relayed).
    var answeredFromCache = false
    var cacheLabel: CacheLabel?
    /// What failed when a stale answer was served instead.
    var cacheError: String?
    /// The status the client got, when it is not the upstream's (a stored answer after a 304).
    var clientStatus: Int?
    /// Where the gateway counts it (nil once counted, and off the gateway).
    var usageTarget: GatewayUsage.Target?
    /// The route's `compress`, and the encoder of an answer being gzipped.
    var compression: CompressionConfig?
    var gzip: GzipStream?

    /// Whether any body byte was taken from the client (then a retry could not resend it).
    var bodyConsumed: Bool { requestBody.bytesSeen > 0 }

    init(head: HTTP1RequestHead, headBytes: ByteBuffer, trace: TraceContext, parentSpanID: String?, spanID: String,
         requestBody: BodyTracker, startNanos: UInt64, startUptime: NIODeadline) {
        self.head = head
        self.headBytes = headBytes
        self.trace = trace
        self.parentSpanID = parentSpanID
        self.spanID = spanID
        self.requestBody = requestBody
        self.startNanos = startNanos
        self.startUptime = startUptime
        attemptStart = startUptime
        bytesIn = UInt64(head.headLength)
    }
}
