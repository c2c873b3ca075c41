import DevMeshOTLP
import Foundation

/// A body as people read and compare it: `Content-Encoding: gzip` undone (the recorded and the
/// replayed answer go through the same step, so a diff compares content, not compression), the
/// header then replaced by `X-Devmesh-Decoded: gzip` so the recording still says what was sent.
public enum BodyDecoding {
    public static let decodedMarkerHeader = "X-Devmesh-Decoded"

    /// `limit`: the most decoded bytes kept (more is a truncated body, as when recording).
    public static func decode(headers: [(name: String, value: String)], body: [UInt8], complete: Bool,
                              limit: Int) -> (headers: [(name: String, value: String)], body: [UInt8], size: Int?) {
        guard complete, !body.isEmpty,
              let index = headers.firstIndex(where: { $0.name.lowercased() == "content-encoding" }),
              ["gzip", "x-gzip"].contains(headers[index].value.trimmingCharacters(in: .whitespaces).lowercased())
        else { return (headers, body, nil) }
        // Decoded up to the limit (+1 to know it is longer): a decompression bomb costs no more.
        guard let inflated = try? GzipInflater.inflatePrefix(body, limit: max(limit, 1)) else { return (headers, body, nil) }
        var out = headers
        out[index] = (decodedMarkerHeader, headers[index].value)
        out.removeAll { $0.name.lowercased() == "content-length" }
        // A cut one is marked by a size past what is kept (its whole decoded size is unknown).
        return (out, inflated.bytes, inflated.complete ? inflated.bytes.count : inflated.bytes.count + 1)
    }
}
