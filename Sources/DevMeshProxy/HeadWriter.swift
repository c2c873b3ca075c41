import DevMeshCore
import DevMeshHTTP1
import NIOCore

/// Builds the heads a proxy forwards: the field lines it keeps are copied byte for byte from the
/// received head (parsed once), hop-by-hop fields are dropped, and the few it owns are added.
enum HeadWriter {
    /// Whether a field is hop-by-hop: by kind, or named in `Connection` (rare: compared only then).
    @inline(__always)
    static func isHopByHop(_ kind: KnownField, _ name: String, options: [String]) -> Bool {
        if kind.isHopByHop { return true }
        return !options.isEmpty && options.contains { name.caseInsensitiveEquals($0) }
    }

    struct RequestExtras {
        var target: String
        var traceparent: String
        var clientAddress: String?
        var addVia: Bool
        /// `X-Forwarded-Proto` to report when the client sent none (or always, at the edge).
        var proto: String = "http"
        /// At the edge, forwarding headers from the client are not trusted: they are replaced.
        var edge: Bool = false
        /// Route header edits (gateway).
        var edits: HeaderEdits? = nil
        /// `x-forwarded-client-cert` value from the mTLS peer (any received one is always dropped).
        var clientCert: String? = nil
    }

    /// The request head to send upstream. `source` holds the received head starting at its reader index.
    static func request(_ head: HTTP1RequestHead, source: ByteBuffer, extras: RequestExtras, into out: inout ByteBuffer) {
        out.writeString(head.method)
        out.writeInteger(UInt8(ascii: " "))
        out.writeString(extras.target)
        out.writeString(head.minorVersion == 1 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n")
        var forwardedFor: String?
        var hasProto = false, hasForwardedHost = false
        for (i, field) in head.fields.enumerated() {
            let kind = head.fieldKinds[i]
            switch kind {
            case .traceparent, .xForwardedClientCert: continue
            case .xForwardedFor:
                if extras.edge { continue }
                forwardedFor = forwardedFor.map { $0 + ", " + field.value } ?? field.value
                continue
            case .xForwardedProto:
                if extras.edge { continue }
                hasProto = true
            case .xForwardedHost:
                if extras.edge { continue }
                hasForwardedHost = true
            default: break
            }
            if isHopByHop(kind, field.name, options: head.connectionOptions) { continue }
            // The gateway vouches for this one (an API key's name): never a client's.
            if extras.edge, kind == .other, field.name.caseInsensitiveEquals("x-api-key-name") || field.name.caseInsensitiveEquals("x-auth-user") { continue }
            if let edits = extras.edits, edits.drops(field.name) { continue }
            if let edits = extras.edits, let name = edits.renamed(field.name) {
                out.writeString("\(name): \(field.value)\r\n")
                continue
            }
            let line = head.fieldLines[i]
            if let slice = source.getSlice(at: source.readerIndex + line.lowerBound, length: line.count) {
                var s = slice
                out.writeBuffer(&s)
            }
        }
        out.writeString("traceparent: \(extras.traceparent)\r\n")
        if let client = extras.clientAddress {
            out.writeString("X-Forwarded-For: \(forwardedFor.map { $0 + ", " } ?? "")\(client)\r\n")
        } else if let forwardedFor {
            out.writeString("X-Forwarded-For: \(forwardedFor)\r\n")
        }
        if !hasProto { out.writeString("X-Forwarded-Proto: \(extras.proto)\r\n") }
        if !hasForwardedHost, !head.host.isEmpty { out.writeString("X-Forwarded-Host: \(head.host)\r\n") }
        if let cert = extras.clientCert { out.writeString("x-forwarded-client-cert: \(cert)\r\n") }
        if let edits = extras.edits {
            for (name, value) in edits.add { out.writeString("\(name): \(value)\r\n") }
        }
        if extras.addVia { out.writeString("Via: 1.\(head.minorVersion) devmesh\r\n") }
        if let upgrade = head.upgrade {
            out.writeString("Upgrade: \(upgrade)\r\nConnection: upgrade\r\n")
        }
        out.writeString("\r\n")
    }

    /// The response head to send to the client. `keepAlive` is what the proxy will do with the
    /// client connection after this response.
    static func response(_ head: HTTP1ResponseHead, source: ByteBuffer, clientMinorVersion: Int, keepAlive: Bool,
                         addVia: Bool, edits: HeaderEdits? = nil, into out: inout ByteBuffer) {
        if let line = source.getSlice(at: source.readerIndex + head.statusLine.lowerBound, length: head.statusLine.count) {
            var l = line
            out.writeBuffer(&l)
        }
        out.writeString("\r\n")
        let switching = head.status == 101
        for (i, field) in head.fields.enumerated() {
            let kind = head.fieldKinds[i]
            if switching, kind == .upgrade || kind == .connection {
                // kept as sent: the upgrade is agreed end to end
            } else if isHopByHop(kind, field.name, options: head.connectionOptions) {
                continue
            }
            if let edits, edits.drops(field.name) { continue }
            if let edits, let name = edits.renamed(field.name) {
                out.writeString("\(name): \(field.value)\r\n")
                continue
            }
            let line = head.fieldLines[i]
            if let slice = source.getSlice(at: source.readerIndex + line.lowerBound, length: line.count) {
                var s = slice
                out.writeBuffer(&s)
            }
        }
        if addVia { out.writeString("Via: 1.\(head.minorVersion) devmesh\r\n") }
        if let edits, !head.isInterim {
            for (name, value) in edits.add { out.writeString("\(name): \(value)\r\n") }
            for (name, value) in edits.append { out.writeString("\(name): \(value)\r\n") }
        }
        if !switching, !head.isInterim {
            if !keepAlive {
                out.writeString("Connection: close\r\n")
            } else if clientMinorVersion == 0 {
                out.writeString("Connection: keep-alive\r\n")
            }
        }
        out.writeString("\r\n")
    }
}

/// Answers devmesh itself gives: what failed, in the body and in `x-devmesh-error`.
enum ErrorResponse {
    /// `rawBody`: a body given as it must be (Istio's `RBAC: access denied`), not a devmesh message.
    static func write(status: Int, code: String?, message: String, close: Bool, extraFields: String = "", rawBody: String? = nil,
                      into out: inout ByteBuffer) {
        if status == 204 {
            // No Content: no body, and no Content-Length (RFC 9110 §8.6): a preflight's answer.
            out.writeString("HTTP/1.1 204 No Content\r\n")
            out.writeString(extraFields)
            if close { out.writeString("Connection: close\r\n") }
            out.writeString("\r\n")
            return
        }
        let body = rawBody ?? "devmesh: \(message)\n"
        out.writeString("HTTP/1.1 \(status) \(reason(status))\r\n")
        out.writeString("Content-Type: text/plain; charset=utf-8\r\n")
        out.writeString("Content-Length: \(body.utf8.count)\r\n")
        if let code { out.writeString("x-devmesh-error: \(code)\r\n") }
        out.writeString(extraFields)
        if close { out.writeString("Connection: close\r\n") }
        out.writeString("\r\n")
        out.writeString(body)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 421: return "Misdirected Request"
        case 429: return "Too Many Requests"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 417: return "Expectation Failed"
        case 431: return "Request Header Fields Too Large"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Error"
        }
    }
}

extension HeaderEdits {
    /// Whether a received field goes: removed by name, or replaced by an `add` of the same name.
    func drops(_ name: String) -> Bool {
        remove.contains { name.caseInsensitiveEquals($0) } || add.contains { name.caseInsensitiveEquals($0.name) }
            || rename.contains { name.caseInsensitiveEquals($0.to) }
    }
}
