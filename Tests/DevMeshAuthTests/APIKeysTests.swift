import DevMeshAuth
import DevMeshCore
import Testing

@Suite struct APIKeysTests {
    static let file = """
        # name   sha256 of the key
        mobile   sha256:258a340e0c52dd3f1b06b3ffdb7db76d24acf2256367727e06e5b4632a82ab1a
        partner: sha256:D1BEFB14A63E7CED66C1EE0868800D6330E970E6F6E5C03DC847A97FA65C588E
        """

    @Test func keysAreKnownByTheirHashOnly() {
        let (keys, problems) = APIKeys.parse(Self.file, file: "keys.txt")
        #expect(problems.isEmpty, "\(problems.map(\.message))")
        #expect(keys.name(of: "mobile-key-123") == "mobile")
        #expect(keys.name(of: "partner-key-456") == "partner")
        #expect(keys.name(of: "mobile-key-124") == nil)
        #expect(keys.name(of: "") == nil)
    }

    @Test func badLinesSayWhereAndHow() {
        let (keys, problems) = APIKeys.parse("ok sha256:258a340e0c52dd3f1b06b3ffdb7db76d24acf2256367727e06e5b4632a82ab1a\nplain mobile-key-123\nok sha256:d1befb14a63e7ced66c1ee0868800d6330e970e6f6e5c03dc847a97fa65c588e\n", file: "keys.txt")
        #expect(keys.entries.map(\.name) == ["ok"])
        #expect(problems.count == 2)
        #expect(problems[0].location?.line == 2 && problems[0].message.contains("not `NAME sha256:HEX`"))
        #expect(problems[0].hint?.contains("sha256sum") == true)
        #expect(problems[1].message.contains("used twice"))
        #expect(APIKeys.parse("# nothing\n", file: "k").1.first?.severity == .warning)
    }
}
