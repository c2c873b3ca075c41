import DevMeshCore

/// Fresh credentials for a replay (the recording holds markers, not secrets): `--header`,
/// `--bearer`, or `replay.auth` in devmesh.yaml. Later entries win over earlier ones.
public struct ReplayCredentials: Sendable {
    public var headers: [(name: String, value: String)]

    public init(headers: [(name: String, value: String)] = [], bearer: String? = nil) {
        self.headers = headers
        if let bearer { self.headers.append(("Authorization", "Bearer " + bearer)) }
    }

    /// `Name: value` as given to `--header`.
    public static func parseHeader(_ text: String) -> (name: String, value: String)? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let name = text[..<colon].trimmingSpaces
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_".contains($0) }) else { return nil }
        return (String(name), String(text[text.index(after: colon)...].trimmingSpaces))
    }
}

/// A recorded request made ready to send again: hop-by-hop and forwarding fields the proxies set
/// are removed (they will be set afresh), the trace context replaced so the replay joins the
/// recording's trace, fresh credentials put in — and a warning for every redacted value that is
/// still in it, because the target gets the marker, not the secret.
public struct ReplayRequest: Sendable {
    public var method: String
    /// Path and query.
    public var target: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var warnings: [String]

    /// Fields never replayed as recorded: framing, hop-by-hop, and what proxies add on the way.
    static let dropped: Set<String> = [
        "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade", "proxy-connection",
        "expect", "traceparent", "tracestate", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
        "x-forwarded-client-cert", "via", "forwarded", BodyDecoding.decodedMarkerHeader.lowercased(),
    ]

    /// `keepHost`: send the recorded `Host` (the gateway routes by it); otherwise the client sets it.
    public init(_ e: RecordedExchange, credentials: ReplayCredentials = ReplayCredentials(), keepHost: Bool, traceparent: String?) {
        method = e.method
        target = e.target
        body = e.request.body
        warnings = []
        let replaced = Set(credentials.headers.map { $0.name.lowercased() })
        var headers: [(name: String, value: String)] = e.request.headers.filter { field in
            let name = field.name.lowercased()
            if Self.dropped.contains(name) || replaced.contains(name) { return false }
            if name == "host" { return keepHost }
            return true
        }
        // The recorded body was gunzipped for storage: it is sent as it is now, plain.
        headers += credentials.headers
        if let traceparent { headers.append(("traceparent", traceparent)) }
        self.headers = headers
        let label = e.id.map { "request #\($0)" } ?? "the request"
        for field in headers where field.value.contains("[redacted:") {
            warnings.append("\(label) carries a redacted `\(field.name)`: the target gets the marker, not the secret; supply --bearer, --header '\(field.name): …' or `replay.auth` in devmesh.yaml")
        }
        if e.request.truncated {
            warnings.append("\(label) had a body of \(e.request.size) bytes, of which \(e.request.body.count) were recorded: the replay sends only those")
        }
        let markers = String(decoding: body, as: UTF8.self).components(separatedBy: "[redacted:").count - 1
        if markers > 0 {
            warnings.append("\(label) has \(markers) redacted value\(markers == 1 ? "" : "s") in its body (sent as markers)")
        }
        if target.contains("[redacted:") || target.contains("%5Bredacted") {
            warnings.append("\(label) has a redacted query parameter (sent as the marker)")
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
