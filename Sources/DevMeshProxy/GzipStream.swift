import CZlib
import NIOCore

/// A gzip encoder fed one body slice at a time (the answer streams; it is never held whole).
/// One per compressed answer, used on its connection's event loop only.
final class GzipStream {
    private var stream = z_stream()
    private var open = false
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)

    /// Level 4: most of level 6's ratio on JSON and text at about half its CPU (the data plane's
    /// budget is per request, and local networks are fast).
    init?(level: Int32 = 4) {
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        open = true
    }

    deinit {
        if open { deflateEnd(&stream) }
    }

    /// Compresses `input`; what zlib has ready is appended to `out` (maybe nothing yet).
    /// `finish`: the last slice; the gzip trailer follows.
    func compress(_ input: ByteBuffer, finish: Bool, into out: inout ByteBuffer) {
        guard open else { return }
        input.withUnsafeReadableBytes { raw in
            let base = raw.bindMemory(to: UInt8.self).baseAddress
            stream.next_in = UnsafeMutablePointer(mutating: base)
            stream.avail_in = UInt32(raw.count)
            // A sync flush per slice: each piece the service sent reaches the client now, not
            // when zlib's window fills (an answer that trickles must not stall).
            let flush = finish ? Z_FINISH : Z_SYNC_FLUSH
            var status: Int32 = Z_OK
            repeat {
                status = scratch.withUnsafeMutableBufferPointer { buffer -> Int32 in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = UInt32(buffer.count)
                    let s = deflate(&stream, flush)
                    out.writeBytes(UnsafeBufferPointer(rebasing: buffer[0..<(buffer.count - Int(stream.avail_out))]))
                    return s
                }
            } while (status == Z_OK && stream.avail_out == 0) || (finish && status == Z_OK)
            stream.next_in = nil
        }
        if finish {
            deflateEnd(&stream)
            open = false
        }
    }

    /// One chunk of `Transfer-Encoding: chunked` around `data` (nothing for no data).
    static func chunk(_ data: ByteBuffer, into out: inout ByteBuffer) {
        guard data.readableBytes > 0 else { return }
        out.writeString(String(data.readableBytes, radix: 16) + "\r\n")
        var d = data
        out.writeBuffer(&d)
        out.writeString("\r\n")
    }

    /// A whole body at once (stored answers served from the cache).
    static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        guard let g = GzipStream() else { return bytes }
        var out = ByteBuffer()
        g.compress(ByteBuffer(bytes: bytes), finish: true, into: &out)
        return Array(out.readableBytesView)
    }
}
