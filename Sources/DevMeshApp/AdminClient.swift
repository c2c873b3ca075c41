import AsyncHTTPClient
import DevMeshCore
import Foundation
import NIOCore
import NIOHTTP1

/// The CLI's side of the admin API: reaches the running `up` through `.devmesh/state.json`.
public struct AdminClient: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        var notFound = false

        init(description: String, notFound: Bool = false) {
            self.description = description
            self.notFound = notFound
        }
    }

    public let state: StackState
    let timeout: TimeAmount

    public init(state: StackState, timeout: TimeAmount = .seconds(10)) {
        self.state = state
        self.timeout = timeout
    }

    /// The running stack of `root`, or a failure that says what to do.
    public static func connect(root: String) throws -> AdminClient {
        let directory = StateDirectory(root: root)
        guard directory.isLocked(), let state = directory.readState() else {
            throw Failure(description: "no devmesh stack is running in \(root)\n  hint: start it with `devmesh up` there, or point at it with -f")
        }
        return AdminClient(state: state)
    }

    public func status() async throws -> StackStatus {
        let body = try await send(.GET, "/api/v1/status")
        do {
            return try JSONDecoder().decode(StackStatus.self, from: body)
        } catch {
            throw Failure(description: "the admin API answered something unexpected: \(error)")
        }
    }

    public func perform(_ command: ServiceCommand, service: String) async throws {
        let escaped = service.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? service
        _ = try await send(.POST, "/api/v1/services/\(escaped)/\(command.rawValue)")
    }

    public func shutdown() async throws {
        _ = try await send(.POST, "/api/v1/shutdown")
    }

    /// `GET path?query`, decoded; `nil` on 404.
    func get<T: Decodable>(_ path: String, query: [(String, String)] = [], as _: T.Type, timeout: TimeAmount? = nil) async throws -> T? {
        var components = URLComponents()
        components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
        let suffix = query.isEmpty ? "" : "?" + (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        let body: Data
        do {
            body = try await send(.GET, path + suffix, timeout: timeout)
        } catch let failure as Failure where failure.notFound {
            return nil
        }
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch {
            throw Failure(description: "the admin API answered something unexpected: \(error)")
        }
    }

    func send(_ method: HTTPMethod, _ path: String, json: Data? = nil, timeout: TimeAmount? = nil) async throws -> Data {
        var request = HTTPClientRequest(url: state.adminURL + path)
        request.method = method
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json))
        }
        request.headers.add(name: "X-Devmesh-Token", value: state.token)
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout ?? self.timeout)
        } catch {
            throw Failure(description: "cannot reach the running devmesh at \(state.adminURL): \(error)")
        }
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        let data = Data(buffer: body)
        guard (200..<300).contains(response.status.code) else {
            struct ErrorBody: Decodable { var error: String }
            let message = (try? JSONDecoder().decode(ErrorBody.self, from: data).error) ?? "HTTP \(response.status.code)"
            throw Failure(description: message, notFound: response.status.code == 404)
        }
        return data
    }
}
