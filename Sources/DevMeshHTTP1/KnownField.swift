/// The field names the proxy acts on, recognised once while parsing (from the raw bytes), so
/// nothing downstream compares names again.
public enum KnownField: UInt8, Sendable, Equatable {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case keepAlive
    case proxyConnection
    case te
    case upgrade
    case expect
    case traceparent
    case tracestate
    case xForwardedFor
    case xForwardedProto
    case xForwardedHost
    case userAgent
    /// Envoy's `x-forwarded-client-cert`: set by devmesh from the mTLS peer, never trusted from a client.
    case xForwardedClientCert

    /// Hop-by-hop fields a proxy never forwards (RFC 9110 §7.6.1). `Transfer-Encoding` is not
    /// among them here: devmesh forwards chunked bodies unchanged, with their header.
    public var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .te, .upgrade: return true
        default: return false
        }
    }

    static func classify(_ buf: UnsafeRawBufferPointer, _ name: Range<Int>) -> KnownField {
        switch name.count {
        case 2: return buf.equalsLowercased(name, "te") ? .te : .other
        case 4: return buf.equalsLowercased(name, "host") ? .host : .other
        case 6: return buf.equalsLowercased(name, "expect") ? .expect : .other
        case 7: return buf.equalsLowercased(name, "upgrade") ? .upgrade : .other
        case 10:
            if buf.equalsLowercased(name, "connection") { return .connection }
            if buf.equalsLowercased(name, "keep-alive") { return .keepAlive }
            if buf.equalsLowercased(name, "tracestate") { return .tracestate }
            if buf.equalsLowercased(name, "user-agent") { return .userAgent }
            return .other
        case 11: return buf.equalsLowercased(name, "traceparent") ? .traceparent : .other
        case 14: return buf.equalsLowercased(name, "content-length") ? .contentLength : .other
        case 15: return buf.equalsLowercased(name, "x-forwarded-for") ? .xForwardedFor : .other
        case 16:
            if buf.equalsLowercased(name, "proxy-connection") { return .proxyConnection }
            if buf.equalsLowercased(name, "x-forwarded-host") { return .xForwardedHost }
            return .other
        case 17:
            if buf.equalsLowercased(name, "transfer-encoding") { return .transferEncoding }
            if buf.equalsLowercased(name, "x-forwarded-proto") { return .xForwardedProto }
            return .other
        case 23: return buf.equalsLowercased(name, "x-forwarded-client-cert") ? .xForwardedClientCert : .other
        default: return .other
        }
    }
}
