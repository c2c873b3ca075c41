import DevMeshCore
import Foundation

/// HAR 1.2 (the HTTP Archive browsers' dev tools and most HTTP tools read and write):
/// `devmesh requests --har` exports recordings, `devmesh replay --har FILE` replays a file's
/// entries. Only what a replay needs is read; unknown fields are ignored, as HAR readers do.
public struct HAR: Codable, Sendable {
    public struct Log: Codable, Sendable {
        public var version: String
        public var creator: Creator
        public var entries: [Entry]
    }

    public struct Creator: Codable, Sendable {
        public var name: String
        public var version: String
    }

    public struct Pair: Codable, Sendable {
        public var name: String
        public var value: String
    }

    public struct PostData: Codable, Sendable {
        public var mimeType: String
        public var text: String
        public var encoding: String?
    }

    public struct Request: Codable, Sendable {
        public var method: String
        public var url: String
        public var httpVersion: String
        public var headers: [Pair]
        public var queryString: [Pair]
        public var cookies: [Pair]
        public var postData: PostData?
        public var headersSize: Int
        public var bodySize: Int

        enum CodingKeys: String, CodingKey {
            case method, url, httpVersion, headers, queryString, cookies, postData, headersSize, bodySize
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            method = try c.decode(String.self, forKey: .method)
            url = try c.decode(String.self, forKey: .url)
            httpVersion = try c.decodeIfPresent(String.self, forKey: .httpVersion) ?? "HTTP/1.1"
            headers = try c.decodeIfPresent([Pair].self, forKey: .headers) ?? []
            queryString = try c.decodeIfPresent([Pair].self, forKey: .queryString) ?? []
            cookies = try c.decodeIfPresent([Pair].self, forKey: .cookies) ?? []
            postData = try c.decodeIfPresent(PostData.self, forKey: .postData)
            headersSize = try c.decodeIfPresent(Int.self, forKey: .headersSize) ?? -1
            bodySize = try c.decodeIfPresent(Int.self, forKey: .bodySize) ?? -1
        }

        init(method: String, url: String, headers: [Pair], queryString: [Pair], postData: PostData?, bodySize: Int) {
            self.method = method
            self.url = url
            httpVersion = "HTTP/1.1"
            self.headers = headers
            self.queryString = queryString
            cookies = []
            self.postData = postData
            headersSize = -1
            self.bodySize = bodySize
        }
    }

    public struct Content: Codable, Sendable {
        public var size: Int
        public var mimeType: String
        public var text: String?
        public var encoding: String?
        /// devmesh's own: the body was longer than the recording kept (HAR allows `_` fields).
        public var truncated: Bool?

        enum CodingKeys: String, CodingKey {
            case size, mimeType, text, encoding
            case truncated = "_truncated"
        }
    }

    public struct Response: Codable, Sendable {
        public var status: Int
        public var statusText: String
        public var httpVersion: String
        public var headers: [Pair]
        public var cookies: [Pair]
        public var content: Content
        public var redirectURL: String
        public var headersSize: Int
        public var bodySize: Int

        enum CodingKeys: String, CodingKey {
            case status, statusText, httpVersion, headers, cookies, content, redirectURL, headersSize, bodySize
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            status = try c.decode(Int.self, forKey: .status)
            statusText = try c.decodeIfPresent(String.self, forKey: .statusText) ?? ""
            httpVersion = try c.decodeIfPresent(String.self, forKey: .httpVersion) ?? "HTTP/1.1"
            headers = try c.decodeIfPresent([Pair].self, forKey: .headers) ?? []
            cookies = try c.decodeIfPresent([Pair].self, forKey: .cookies) ?? []
            content = try c.decodeIfPresent(Content.self, forKey: .content) ?? Content(size: 0, mimeType: "")
            redirectURL = try c.decodeIfPresent(String.self, forKey: .redirectURL) ?? ""
            headersSize = try c.decodeIfPresent(Int.self, forKey: .headersSize) ?? -1
            bodySize = try c.decodeIfPresent(Int.self, forKey: .bodySize) ?? -1
        }

        init(status: Int, headers: [Pair], content: Content) {
            self.status = status
            statusText = ""
            httpVersion = "HTTP/1.1"
            self.headers = headers
            cookies = []
            self.content = content
            redirectURL = ""
            headersSize = -1
            bodySize = content.size
        }
    }

    public struct Timings: Codable, Sendable {
        public var send: Double
        public var wait: Double
        public var receive: Double
    }

    public struct Entry: Codable, Sendable {
        public var startedDateTime: String
        public var time: Double
        public var request: Request
        public var response: Response
        public var cache: [String: String]
        public var timings: Timings
        /// devmesh's own: the recording's id, trace and service.
        public var recording: Int64?
        public var traceID: String?
        public var service: String?

        enum CodingKeys: String, CodingKey {
            case startedDateTime, time, request, response, cache, timings
            case recording = "_devmeshRecording", traceID = "_traceId", service = "_devmeshService"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            startedDateTime = try c.decodeIfPresent(String.self, forKey: .startedDateTime) ?? ""
            time = try c.decodeIfPresent(Double.self, forKey: .time) ?? 0
            request = try c.decode(Request.self, forKey: .request)
            response = try c.decode(Response.self, forKey: .response)
            cache = [:]
            timings = try c.decodeIfPresent(Timings.self, forKey: .timings) ?? Timings(send: 0, wait: 0, receive: 0)
            recording = try c.decodeIfPresent(Int64.self, forKey: .recording)
            traceID = try c.decodeIfPresent(String.self, forKey: .traceID)
            service = try c.decodeIfPresent(String.self, forKey: .service)
        }

        init(startedDateTime: String, time: Double, request: Request, response: Response, recording: Int64?, traceID: String?, service: String) {
            self.startedDateTime = startedDateTime
            self.time = time
            self.request = request
            self.response = response
            cache = [:]
            timings = Timings(send: 0, wait: time, receive: 0)
            self.recording = recording
            self.traceID = traceID
            self.service = service
        }
    }

    public var log: Log

    // MARK: - Export

    public init(recordings: [RecordedExchange], version: String) {
        log = Log(version: "1.2", creator: Creator(name: "devmesh", version: version), entries: recordings.map(Self.entry))
    }

    static func entry(_ e: RecordedExchange) -> Entry {
        let host = e.request.headers.first { $0.name.lowercased() == "host" }?.value ?? e.service
        let scheme = e.listener == "gateway" ? "https" : "http"
        let url = scheme + "://" + host + e.target
        let query: [Pair] = e.target.split(separator: "?", maxSplits: 1).dropFirst().first.map { q in
            q.split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return Pair(name: String(parts[0]).removingPercentEncoding ?? String(parts[0]),
                            value: parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : "")
            }
        } ?? []
        func mime(_ m: RecordedExchange.Message) -> String { m.headers.first { $0.name.lowercased() == "content-type" }?.value ?? "" }
        let postData: PostData? = e.request.body.isEmpty ? nil : {
            if let text = String(validating: e.request.body, as: UTF8.self) { return PostData(mimeType: mime(e.request), text: text) }
            return PostData(mimeType: mime(e.request), text: Base64.encode(e.request.body), encoding: "base64")
        }()
        var content = Content(size: e.response.size, mimeType: mime(e.response))
        if !e.response.body.isEmpty {
            if let text = String(validating: e.response.body, as: UTF8.self) {
                content.text = text
            } else {
                content.text = Base64.encode(e.response.body)
                content.encoding = "base64"
            }
        }
        if e.response.truncated { content.truncated = true }
        return Entry(
            startedDateTime: ISOTime.format(nanos: e.timeNanos), time: Double(e.durationNanos) / 1e6,
            request: Request(method: e.method, url: url, headers: e.request.headers.map { Pair(name: $0.name, value: $0.value) },
                             queryString: query, postData: postData, bodySize: e.request.size),
            response: Response(status: e.status ?? 0, headers: e.response.headers.map { Pair(name: $0.name, value: $0.value) }, content: content),
            recording: e.id, traceID: e.traceID.isEmpty ? nil : e.traceID, service: e.service)
    }

    // MARK: - Import

    /// HAR bodies are stored decoded (the spec's `content.text`): `Content-Encoding` then says
    /// what was sent, as devmesh's own `X-Devmesh-Decoded` does, not what the text is.
    static func decoded(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        headers.map { $0.name.lowercased() == "content-encoding" ? (BodyDecoding.decodedMarkerHeader, $0.value) : $0 }
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public static func parse(_ data: Data, file: String) throws -> HAR {
        do {
            return try JSONDecoder().decode(HAR.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw Invalid(description: "\(file): not a HAR file: `\(key.stringValue)` is missing at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw Invalid(description: "\(file): not a HAR file (\(error))")
        }
    }

    /// The entries as exchanges to replay: the URL's path and query become the target, its
    /// authority the `Host` (unless the entry has one). Entries other than http(s) are skipped.
    public func exchanges() throws -> [RecordedExchange] {
        try log.entries.enumerated().map { index, entry in
            guard let url = URLComponents(string: entry.request.url), let scheme = url.scheme, ["http", "https"].contains(scheme.lowercased()) else {
                throw Invalid(description: "entry \(index + 1): `\(entry.request.url.prefix(100))` is not an http(s) URL")
            }
            var target = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
            if let q = url.percentEncodedQuery { target += "?" + q }
            // HTTP/2 pseudo-headers (`:authority`) from browsers are not fields.
            var headers = Self.decoded(entry.request.headers.filter { !$0.name.hasPrefix(":") }.map { (name: $0.name, value: $0.value) })
            if !headers.contains(where: { $0.name.lowercased() == "host" }), let host = url.host {
                headers.insert(("Host", url.port.map { "\(host):\($0)" } ?? host), at: 0)
            }
            var body: [UInt8] = []
            if let post = entry.request.postData {
                body = post.encoding == "base64" ? (Base64.decode(post.text) ?? []) : Array(post.text.utf8)
            }
            var responseBody: [UInt8] = []
            if let text = entry.response.content.text {
                responseBody = entry.response.content.encoding == "base64" ? (Base64.decode(text) ?? []) : Array(text.utf8)
            }
            let size = entry.response.content.truncated == true ? max(entry.response.content.size, responseBody.count + 1) : responseBody.count
            let service = entry.service ?? (scheme.lowercased() == "https" ? "devmesh-gateway" : (url.host ?? "devmesh-gateway"))
            return RecordedExchange(
                id: entry.recording, timeNanos: ISOTime.parseNanos(entry.startedDateTime) ?? 0, traceID: entry.traceID ?? "", spanID: "",
                service: service, listener: service == "devmesh-gateway" ? "gateway" : "inbound",
                method: entry.request.method, target: target,
                request: .init(headers: headers, body: body),
                status: entry.response.status == 0 ? nil : entry.response.status,
                response: .init(headers: Self.decoded(entry.response.headers.filter { !$0.name.hasPrefix(":") }.map { ($0.name, $0.value) }),
                                body: responseBody, size: size),
                durationNanos: entry.time.isFinite ? UInt64(min(max(0, entry.time), 1e9) * 1e6) : 0)
        }
    }
}
