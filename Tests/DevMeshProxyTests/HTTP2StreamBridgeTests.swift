import DevMeshHTTP1
@testable import DevMeshProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The HTTP/2 → HTTP/1.1 bridge on an embedded channel: what the proxy core receives, and what
/// the HTTP/2 codec gets back.
@Suite struct HTTP2StreamBridgeTests {
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTP2StreamBridge(limits: HTTP1Limits()))
        return channel
    }

    func head(_ method: HTTPMethod = .GET, _ uri: String = "/x", headers: [(String, String)]) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: .http2, method: method, uri: uri, headers: HTTPHeaders(headers)))
    }

    /// Everything the core received, as text.
    func coreInput(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test func cookiesAreJoinedAndTheHeadIsHTTP1() throws {
        let ch = try channel()
        try ch.writeInbound(head(headers: [("host", "users.localhost"), ("cookie", "a=1"), ("cookie", "b=2"), ("te", "trailers")]))
        try ch.writeInbound(HTTPServerRequestPart.end(nil))
        let text = try coreInput(ch)
        #expect(text == "GET /x HTTP/1.1\r\ncookie: a=1; b=2\r\nhost: users.localhost\r\n\r\n")
    }

    @Test func aBodyWithoutLengthIsChunked() throws {
        let ch = try channel()
        try ch.writeInbound(head(.POST, "/p", headers: [("host", "h")]))
        try ch.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "hello")))
        try ch.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(try coreInput(ch) == "POST /p HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    }

    @Test func aBodyWithLengthPassesAsIs() throws {
        let ch = try channel()
        try ch.writeInbound(head(.POST, "/p", headers: [("host", "h"), ("content-length", "5")]))
        try ch.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "hello")))
        try ch.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(try coreInput(ch) == "POST /p HTTP/1.1\r\nhost: h\r\ncontent-length: 5\r\n\r\nhello")
    }

    @Test func expectContinueForwardsTheHeadAtOnceAndThe100Back() throws {
        let ch = try channel()
        try ch.writeInbound(head(.PUT, "/u", headers: [("host", "h"), ("content-length", "2"), ("expect", "100-continue")]))
        #expect(try coreInput(ch).hasPrefix("PUT /u HTTP/1.1\r\n"))
        try ch.writeOutbound(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n"))
        guard case .head(let interim) = try ch.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no interim head")
            return
        }
        #expect(interim.status.code == 100)
    }

    @Test func chunkedResponsesAreDechunkedAndHopByHopFieldsDropped() throws {
        let ch = try channel()
        try ch.writeInbound(head(headers: [("host", "h")]))
        try ch.writeInbound(HTTPServerRequestPart.end(nil))
        _ = try coreInput(ch)
        try ch.writeOutbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, x-hop\r\nX-Hop: 1\r\nX-Kept: 2\r\n\r\n3\r\nabc\r\n"))
        try ch.writeOutbound(ByteBuffer(string: "2\r\nde\r\n0\r\n\r\n"))
        var parts: [HTTPServerResponsePart] = []
        while let part = try ch.readOutbound(as: HTTPServerResponsePart.self) { parts.append(part) }
        guard case .head(let h) = parts.first else {
            Issue.record("no head")
            return
        }
        #expect(h.status == .ok)
        #expect(h.headers["x-kept"] == ["2"])
        #expect(h.headers["x-hop"].isEmpty && h.headers["connection"].isEmpty && h.headers["transfer-encoding"].isEmpty)
        let body = parts.compactMap { part -> String? in
            if case .body(.byteBuffer(let b)) = part { return String(buffer: b) }
            return nil
        }.joined()
        #expect(body == "abcde")
        guard case .end = parts.last else {
            Issue.record("no end")
            return
        }
    }

    @Test func aHeadResponseHasNoBody() throws {
        let ch = try channel()
        try ch.writeInbound(head(.HEAD, "/", headers: [("host", "h")]))
        try ch.writeInbound(HTTPServerRequestPart.end(nil))
        try ch.writeOutbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"))
        var parts: [HTTPServerResponsePart] = []
        while let part = try ch.readOutbound(as: HTTPServerResponsePart.self) { parts.append(part) }
        #expect(parts.count == 2)
        guard case .end = parts.last else {
            Issue.record("no end")
            return
        }
    }

    @Test func aRefusedStreamForwardsNothingMore() throws {
        let ch = try channel()
        try ch.writeInbound(head(.POST, "/p", headers: [("host", "h"), ("x-evil", "a\r\nX-Injected: 1")]))
        try ch.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n")))
        try ch.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(try coreInput(ch).isEmpty)
        guard case .head(let h) = try ch.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no answer")
            return
        }
        #expect(h.status == .badRequest)
    }
}
