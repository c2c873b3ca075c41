import Foundation
import NIOCore
import NIOPosix

/// Sends exact bytes to a port on 127.0.0.1 and collects what comes back, for tests that need
/// control over every byte (smuggling shapes, pipelining, half-sent bodies).
public enum RawHTTPClient {
    public struct Reply: Sendable {
        public var bytes: [UInt8]
        /// Whether the server closed the connection (as opposed to the read stopping early).
        public var closedByServer: Bool
        public var text: String { String(decoding: bytes, as: UTF8.self) }

        /// The status codes of every response in the reply, in order.
        public var statuses: [Int] {
            var out: [Int] = []
            var rest = text[...]
            while let r = rest.range(of: "HTTP/1.") {
                let line = rest[r.lowerBound...].prefix(12)
                if line.count == 12, let code = Int(line.dropFirst(9)) { out.append(code) }
                rest = rest[r.upperBound...]
            }
            return out
        }
    }

    /// Writes `chunks` (each flushed separately) and reads until `until` says the reply is whole,
    /// the server closes, or `timeout` passes.
    public static func exchange(port: Int, _ chunks: [[UInt8]], timeout: Duration = .seconds(10),
                                until: @escaping @Sendable ([UInt8]) -> Bool = { _ in false }) async throws -> Reply {
        let channel = try await connect(port: port)
        return try await channel.executeThenClose { inbound, outbound in
            for chunk in chunks {
                try await outbound.write(ByteBuffer(bytes: chunk))
            }
            return await withTaskGroup(of: Reply?.self) { group in
                group.addTask {
                    var received: [UInt8] = []
                    do {
                        for try await buffer in inbound {
                            received += buffer.readableBytesView
                            if until(received) { return Reply(bytes: received, closedByServer: false) }
                        }
                    } catch {
                        return Reply(bytes: received, closedByServer: true)
                    }
                    return Reply(bytes: received, closedByServer: true)
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first ?? Reply(bytes: [], closedByServer: false)
            }
        }
    }

    static func connect(port: Int) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    public static func exchange(port: Int, _ text: String, timeout: Duration = .seconds(10),
                                until: @escaping @Sendable ([UInt8]) -> Bool = { _ in false }) async throws -> Reply {
        try await exchange(port: port, [Array(text.utf8)], timeout: timeout, until: until)
    }

    /// A predicate: `count` complete responses with Content-Length bodies have arrived.
    public static func responses(_ count: Int) -> @Sendable ([UInt8]) -> Bool {
        { bytes in
            var seen = 0
            var i = 0
            let text = String(decoding: bytes, as: UTF8.self)
            let chars = Array(text.utf8)
            while seen < count {
                guard let headEnd = find(chars, Array("\r\n\r\n".utf8), from: i) else { return false }
                let head = String(decoding: chars[i..<headEnd], as: UTF8.self).lowercased()
                var length = 0
                if let r = head.range(of: "content-length:") {
                    length = Int(head[r.upperBound...].prefix { $0 != "\r" }.trimmingCharacters(in: .whitespaces)) ?? 0
                }
                let end = headEnd + 4 + length
                guard end <= chars.count else { return false }
                i = end
                seen += 1
            }
            return true
        }
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
        for i in from...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}

extension RawHTTPClient {
    /// Sends `head`, then `chunk` `count` times (waiting for the socket to take each: back-pressure,
    /// so the client holds one chunk, never the whole body), then reads the reply.
    public static func upload(port: Int, head: String, chunk: [UInt8], count: Int, timeout: Duration = .seconds(60)) async throws -> Reply {
        let channel = try await connect(port: port)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: head))
            let piece = ByteBuffer(bytes: chunk)
            for _ in 0..<count { try await outbound.write(piece) }
            var received: [UInt8] = []
            for try await buffer in inbound {
                received += buffer.readableBytesView
                if responses(1)(received) { break }
            }
            return Reply(bytes: received, closedByServer: false)
        }
    }

    /// Sends a request and counts the bytes of the reply without keeping them; stops after `bytes`.
    public static func download(port: Int, request: String, bytes expected: Int) async throws -> Int {
        let channel = try await connect(port: port)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var total = 0
            for try await buffer in inbound {
                total += buffer.readableBytes
                if total >= expected { break }
            }
            return total
        }
    }
}

/// This process's resident memory in bytes (VmRSS).
public func residentMemory() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
}
