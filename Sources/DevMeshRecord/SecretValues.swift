import DevMeshCore

/// The secret values one exchange's redaction replaced, found again anywhere else in it (an
/// echoed token, a repeated password) and given the same marker. Values shorter than 4
/// characters are left: replacing every `1` or `ok` would destroy the recording (and a marker
/// of a value that short is no protection either way).
struct SecretValues {
    static let minimumLength = 4
    private(set) var values: Set<String> = []

    mutating func add(_ secrets: [String]) {
        for s in secrets where s.count >= Self.minimumLength && !s.contains("[redacted:") { values.insert(s) }
    }

    func replace(in text: String, redactor: Redactor, count: inout Int) -> String {
        var out = text
        // Longest first: a secret that contains another is replaced whole.
        for secret in values.sorted(by: { $0.count > $1.count }) where out.contains(secret) {
            let parts = out.components(separatedBy: secret)
            count += parts.count - 1
            out = parts.joined(separator: redactor.marker(secret))
        }
        return out
    }

    func replace(in m: RecordedExchange.Message, redactor: Redactor, count: inout Int) -> RecordedExchange.Message {
        var out = m
        out.headers = m.headers.map { ($0.name, replace(in: $0.value, redactor: redactor, count: &count)) }
        if let (text, tail) = RecordingFinisher.utf8(m.body) {
            let replaced = replace(in: text, redactor: redactor, count: &count)
            if replaced != text {
                out.body = Array(replaced.utf8) + tail
                out.size = RecordingFinisher.size(after: out.body, before: m)
            }
        }
        return out
    }
}
