import DevMeshCore
import Testing

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("512MB", Int64(512_000_000)),
        ("512mb", 512_000_000),
        ("2GB", 2_000_000_000),
        ("1KB", 1000),
        ("1GiB", 1 << 30),
        ("1gib", 1 << 30),
        ("3MiB", 3 << 20),
        ("100k", 102_400),
        ("1G", 1 << 30),
        ("10", 10),
        ("10b", 10),
        ("0", 0),
        (" 512 MB ", 512_000_000),
        ("1.5GB", 1_500_000_000),
        ("1TB", 1_000_000_000_000),
    ])
    func parses(_ text: String, _ bytes: Int64) {
        #expect(ByteSize.parse(text) == bytes, "\(text)")
    }

    @Test(arguments: ["", " ", "MB", "abc", "-5", "-5MB", "12 XB", "1.2.3MB", "1e3", "10 bytes", "99999999999TB", "5 M B"])
    func rejects(_ text: String) {
        #expect(ByteSize.parse(text) == nil, "\(text)")
    }

    @Test func durations() {
        #expect(DurationParser.parse("7d") == .seconds(7 * 86_400))
        #expect(DurationParser.parse("1h30m") == .seconds(5400))
        #expect(DurationParser.parse("250ms") == .milliseconds(250))
        #expect(DurationParser.parse("7x") == nil)
        #expect(DurationParser.parse("") == nil)
    }
}
