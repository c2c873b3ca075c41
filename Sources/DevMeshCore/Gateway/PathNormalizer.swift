/// RFC 3986 §5.2.4 dot-segment removal on a request path, as Envoy's `normalize_path` does at the
/// edge: routing and the service then agree on which path was asked for (`/api/users/../admin`
/// is `/admin`, and is routed as `/admin`).
public enum PathNormalizer {
    public static func removeDotSegments(_ path: String) -> String {
        // Fast path: most paths have no dot segment at all.
        guard path.contains("/.") || path.hasPrefix(".") else { return path }
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for (i, segment) in segments.enumerated() {
            let last = i == segments.count - 1
            switch segment {
            case ".":
                if last { output.append("") }
            case "..":
                if output.count > 1 { output.removeLast() }
                if last { output.append("") }
            default:
                output.append(segment)
            }
        }
        var result = output.joined(separator: "/")
        if !result.hasPrefix("/") { result = "/" + result }
        return result
    }
}
