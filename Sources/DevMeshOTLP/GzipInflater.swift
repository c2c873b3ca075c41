import CZlib

/// gunzip with a hard output limit: a small request that inflates to gigabytes (a gzip bomb)
/// is refused as soon as the output passes `limit`, having allocated at most `limit` bytes.
public enum GzipInflater {
    public static func inflate(_ input: [UInt8], limit: Int) throws -> [UInt8] {
        try inflate(input, limit: limit, keepingPrefix: false).bytes
    }

    /// The first `limit` bytes of the decoded body, and whether that is all of it (a recorded
    /// body longer than the recording limit is kept cut, as it would be uncompressed).
    public static func inflatePrefix(_ input: [UInt8], limit: Int) throws -> (bytes: [UInt8], complete: Bool) {
        try inflate(input, limit: limit, keepingPrefix: true)
    }

    static func inflate(_ input: [UInt8], limit: Int, keepingPrefix: Bool) throws -> (bytes: [UInt8], complete: Bool) {
        var stream = z_stream()
        // 15 window bits + 16: a gzip header is required (Content-Encoding: gzip).
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw OTLPPayloadError("cannot start gzip decoding")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status: Int32 = Z_OK
        /// Thrown inside the loop when a kept prefix is full (not an error to the caller).
        struct PrefixFull: Error {}
        do { try input.withUnsafeBufferPointer { inBuffer in
            stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.avail_in = UInt32(inBuffer.count)
            while status != Z_STREAM_END {
                try chunk.withUnsafeMutableBufferPointer { outBuffer in
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = UInt32(outBuffer.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    guard status == Z_OK || status == Z_STREAM_END else {
                        throw OTLPPayloadError("the body is not valid gzip (zlib error \(status))")
                    }
                    let produced = outBuffer.count - Int(stream.avail_out)
                    guard output.count + produced <= limit else {
                        guard keepingPrefix else {
                            throw OTLPPayloadError("the body inflates to more than \(limit) bytes; send smaller batches")
                        }
                        output.append(contentsOf: outBuffer[0..<(limit - output.count)])
                        throw PrefixFull()
                    }
                    output.append(contentsOf: outBuffer[0..<produced])
                    if status == Z_OK, produced == 0, stream.avail_in == 0 {
                        throw OTLPPayloadError("the gzip body is truncated")
                    }
                }
            }
        } } catch is PrefixFull {
            return (output, false)
        }
        return (output, true)
    }

    /// gzip (for tests and the exporter).
    public static func deflate(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return [] }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        let written: Int = input.withUnsafeBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                _ = CZlib.deflate(&stream, Z_FINISH)
                return outBuffer.count - Int(stream.avail_out)
            }
        }
        return Array(output[0..<written])
    }
}
