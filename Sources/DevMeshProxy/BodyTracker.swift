import DevMeshHTTP1
import NIOCore

/// Follows a message body through the stream to find where it ends, without changing a byte.
struct BodyTracker {
    enum Mode {
        case none
        case length(remaining: UInt64)
        case chunked(ChunkedBodyScanner)
        case untilClose
    }

    private(set) var mode: Mode
    private(set) var bytesSeen: UInt64 = 0

    init(_ framing: BodyFraming, limits: HTTP1Limits) {
        switch framing {
        case .none: mode = .none
        case .length(let n): mode = .length(remaining: n)
        case .chunked: mode = .chunked(ChunkedBodyScanner(limits: limits))
        case .untilClose: mode = .untilClose
        }
    }

    var isDone: Bool {
        switch mode {
        case .none: return true
        case .length(let remaining): return remaining == 0
        case .chunked(let scanner): return scanner.isDone
        case .untilClose: return false
        }
    }

    /// How many of the readable bytes of `buffer` belong to the body.
    mutating func consume(_ buffer: ByteBuffer) throws(HTTP1Violation) -> Int {
        let available = buffer.readableBytes
        let n: Int
        switch mode {
        case .none:
            n = 0
        case .length(let remaining):
            n = Int(min(remaining, UInt64(available)))
            mode = .length(remaining: remaining - UInt64(n))
        case .chunked(var scanner):
            n = try buffer.withReadableBytes { bytes throws(HTTP1Violation) -> Int in try scanner.scan(bytes) }
            mode = .chunked(scanner)
        case .untilClose:
            n = available
        }
        bytesSeen += UInt64(n)
        return n
    }
}

extension ByteBuffer {
    /// Runs `body` with the readable bytes, rethrowing a typed error.
    func withReadableBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>!
        self.withUnsafeReadableBytes { bytes in
            do throws(E) { result = .success(try body(bytes)) } catch { result = .failure(error) }
        }
        return try result.get()
    }
}
