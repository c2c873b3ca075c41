import DevMeshOTLP
import Foundation
import Testing

@Suite("gzip")
struct GzipInflaterTests {
    /// Bytes that do not compress much (a linear congruential sequence).
    static func noise(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    @Test("deflate → inflate gives back the input", arguments: [0, 1, 100, 64 * 1024, 64 * 1024 + 1, 300_000])
    func roundTrip(_ size: Int) throws {
        let input = Self.noise(size)
        let gz = GzipInflater.deflate(input)
        #expect(gz.count >= 18)                       // 10-byte header + 8-byte trailer at least
        #expect(Array(gz.prefix(2)) == [0x1F, 0x8B])  // a gzip header
        #expect(try GzipInflater.inflate(gz, limit: size) == input)
    }

    @Test("text compresses and comes back")
    func text() throws {
        let input = Array(String(repeating: "{\"key\":\"http.method\",\"value\":{\"stringValue\":\"GET\"}}", count: 2_000).utf8)
        let gz = GzipInflater.deflate(input)
        #expect(gz.count < input.count / 10)
        #expect(try GzipInflater.inflate(gz, limit: input.count) == input)
    }

    @Test("output one byte over the limit is refused")
    func limit() throws {
        let input = Self.noise(200_000)
        let gz = GzipInflater.deflate(input)
        #expect(try GzipInflater.inflate(gz, limit: input.count).count == input.count)
        let error = #expect(throws: OTLPPayloadError.self) { try GzipInflater.inflate(gz, limit: input.count - 1) }
        #expect(error?.message.contains("more than \(input.count - 1) bytes") == true)
        #expect(throws: OTLPPayloadError.self) { try GzipInflater.inflate(GzipInflater.deflate([1]), limit: 0) }
    }

    @Test("a gzip bomb (64 MiB of zeros) stops at the limit, quickly")
    func bomb() throws {
        let zeros = [UInt8](repeating: 0, count: 64 * 1024 * 1024)
        let bomb = GzipInflater.deflate(zeros)
        #expect(bomb.count < 128 * 1024, "the bomb is \(bomb.count) bytes")
        let clock = ContinuousClock()
        let started = clock.now
        let error = #expect(throws: OTLPPayloadError.self) { try GzipInflater.inflate(bomb, limit: 1024 * 1024) }
        let elapsed = clock.now - started
        #expect(elapsed < .seconds(2), "took \(elapsed)")
        #expect(error?.message.contains("more than 1048576 bytes") == true)
    }

    @Test("bytes that are not gzip are refused", arguments: [
        Array("hello, this is plain text and not gzip".utf8),
        Array("{\"resourceSpans\":[]}".utf8),
        [0x1F, 0x8B, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00],   // compression method 9
        [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],                     // zlib, not gzip
    ])
    func notGzip(_ input: [UInt8]) {
        #expect(throws: OTLPPayloadError.self) { try GzipInflater.inflate(input, limit: 1024 * 1024) }
    }

    @Test("empty input is refused")
    func empty() {
        #expect(throws: OTLPPayloadError.self) { try GzipInflater.inflate([], limit: 1024) }
    }

    @Test("truncated gzip is refused wherever it is cut")
    func truncated() throws {
        let input = Self.noise(150_000)
        let gz = GzipInflater.deflate(input)
        for keep in [1, 5, 10, 11, 100, gz.count / 2, gz.count - 8, gz.count - 4, gz.count - 1] {
            #expect(throws: OTLPPayloadError.self, "kept \(keep) of \(gz.count) bytes") {
                try GzipInflater.inflate(Array(gz.prefix(keep)), limit: 1024 * 1024)
            }
        }
        let small = GzipInflater.deflate(Array("small".utf8))
        #expect(throws: OTLPPayloadError.self) { try GzipInflater.inflate(Array(small.dropLast()), limit: 1024) }
    }

    @Test("a corrupted checksum is refused")
    func badCRC() throws {
        var gz = GzipInflater.deflate(Array("some text to protect".utf8))
        gz[gz.count - 8] ^= 0xFF
        #expect(throws: OTLPPayloadError.self) { try GzipInflater.inflate(gz, limit: 1024) }
    }
}
