import DevMeshCore
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The admin listener: the JSON API that the CLI and the web UI talk to, and the UI itself.
/// Loopback only; see `AdminGuard` for how it keeps other web pages out.
public enum AdminAPI {
    public static func router(control: any StackControl, token: String, telemetry: (any TelemetryQuerying)? = nil,
                              policies: (any PolicyInspecting)? = nil, requests: (any RequestReplaying)? = nil,
                              gateway: (any GatewayInspecting)? = nil, externals: (any ExternalsInspecting)? = nil) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: SecurityHeaders())
        router.add(middleware: AdminGuard(token: token))
        UIRoutes.add(to: router)

        router.get("/healthz") { _, _ in "ok\n" }

        router.get("/api/v1/status") { _, _ -> Response in
            try json(await control.status())
        }

        router.post("/api/v1/services/:name/:command") { _, context -> Response in
            let name = try context.parameters.require("name")
            let commandName = try context.parameters.require("command")
            guard let command = ServiceCommand(rawValue: commandName) else {
                return APIError.response(.notFound, "unknown command `\(commandName)`; use restart, stop or start")
            }
            do {
                try await control.perform(command, service: name)
            } catch StackControlError.unknownService(let service, let known) {
                return APIError.response(.notFound, "no service `\(service)` in this stack; services: \(known.joined(separator: ", "))")
            } catch {
                return APIError.response(.serviceUnavailable, "the stack is shutting down")
            }
            return try json(Accepted(accepted: "\(command.rawValue) \(name)"), status: .accepted)
        }

        router.post("/api/v1/shutdown") { _, _ -> Response in
            await control.shutdown()
            return try json(Accepted(accepted: "shutdown"), status: .accepted)
        }
        router.get("/api/v1/services") { request, _ -> Response in
            try await TelemetryRoutes.answer {
                let query = TelemetryRoutes.pairs(request)
                try TelemetryRoutes.requireOnly(["window"], in: query)
                let window = try TelemetryRoutes.window(query, key: "window", default: .seconds(60))
                let seconds = Double(TelemetryRoutes.now() &- window) / 1e9
                let traffic = try await telemetry?.traffic(sinceNanos: window) ?? [:]
                return try json(ServicesOverview(status: await control.status(), traffic: traffic, windowSeconds: seconds.rounded()))
            }
        }

        if let telemetry {
            TelemetryRoutes.add(to: router, telemetry: telemetry, streams: LogStreams())
        }
        PolicyRoutes.add(to: router, policies: policies, telemetry: telemetry)
        if let requests { RequestRoutes.add(to: router, requests: requests) }
        GatewayRoutes.add(to: router, gateway: gateway)
        ExternalRoutes.add(to: router, externals: externals)
        return router
    }

    /// The admin server as a `Service`, bound to 127.0.0.1:`port` (0 = any free port).
    /// `onListening` receives the port actually bound.
    public static func server(control: any StackControl, token: String, port: Int, telemetry: (any TelemetryQuerying)? = nil,
                              policies: (any PolicyInspecting)? = nil, requests: (any RequestReplaying)? = nil,
                              gateway: (any GatewayInspecting)? = nil, externals: (any ExternalsInspecting)? = nil,
                              onListening: @escaping @Sendable (Int) async -> Void) -> some Service {
        var logger = Logger(label: "devmesh.admin")
        logger.logLevel = .error
        return Application(
            router: router(control: control, token: token, telemetry: telemetry, policies: policies, requests: requests, gateway: gateway,
                           externals: externals),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "devmesh"),
            onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? port)
            },
            logger: logger)
    }

    struct Accepted: Codable { var accepted: String }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
