import DevMeshCore
import NIOCore
import NIOSSL

/// Where a listener gets its TLS context: asked per connection, so a renewed certificate is
/// picked up without a restart (the store answers from its cache with an already-succeeded future).
public typealias TLSContextProvider = @Sendable (any EventLoop) -> EventLoopFuture<NIOSSLContext>

/// mTLS towards an inbound sidecar: the caller presents its workload certificate, trusts only
/// the devmesh CA, and accepts the connection only when the server proves `expected`.
public struct UpstreamTLS: Sendable {
    public var context: TLSContextProvider
    public var expected: SPIFFEID

    public init(context: @escaping TLSContextProvider, expected: SPIFFEID) {
        self.context = context
        self.expected = expected
    }
}
