import NIOConcurrencyHelpers

/// Pages the gateway answers itself under `/_devmesh/` (the API docs), by path. Replaced whole
/// when they are made again; read per request.
public final class StaticPages: Sendable {
    public struct Page: Sendable {
        public var contentType: String
        public var body: [UInt8]

        public init(contentType: String, body: [UInt8]) {
            self.contentType = contentType
            self.body = body
        }
    }

    public static let prefix = "/_devmesh/"
    private let box = NIOLockedValueBox<[String: Page]>([:])

    public init() {}

    public func set(_ pages: [String: Page]) {
        box.withLockedValue { $0 = pages }
    }

    public func page(_ path: String) -> Page? {
        box.withLockedValue { $0[path] }
    }
}
