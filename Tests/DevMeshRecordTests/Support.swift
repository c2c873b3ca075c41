import DevMeshOTLP

/// gzip for test inputs (the library's own deflate, used by the OTLP exporter).
enum DevMeshOTLPGzip {
    static func deflate(_ bytes: [UInt8]) -> [UInt8] { GzipInflater.deflate(bytes) }
}
