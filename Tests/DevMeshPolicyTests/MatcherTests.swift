@testable import DevMeshPolicy
import Testing

@Suite struct MatcherTests {
    @Test func stringPatternsAsIstioReadsThem() {
        #expect(StringMatcher("abc") == .exact("abc"))
        #expect(StringMatcher("abc*") == .prefix("abc"))
        #expect(StringMatcher("*abc") == .suffix("abc"))
        #expect(StringMatcher("*") == .presence)
        #expect(StringMatcher("a*c") == .exact("a*c"), "a * in the middle is a literal")
        #expect(StringMatcher("*").matches("x"))
        #expect(!StringMatcher("*").matches(""), "* is any non-empty value")
        #expect(!StringMatcher("*").matches(nil))
        #expect(StringMatcher("/admin*").matches("/admin/x"))
        #expect(!StringMatcher("/admin*").matches("//admin"))
        #expect(!StringMatcher("/admin*").matches("/ADMIN"), "case-sensitive")
        #expect(StringMatcher("*.example.com").matches("API.Example.com", caseInsensitive: true))
        #expect(!StringMatcher("a.com").matches("a.com:80", caseInsensitive: true))
    }

    @Test func pathTemplates() throws {
        let one = try #require(PathMatcher("/users/{*}/orders"))
        #expect(one.matches("/users/42/orders"))
        #expect(!one.matches("/users//orders"), "{*} is one non-empty segment")
        #expect(!one.matches("/users/4/2/orders"))
        let rest = try #require(PathMatcher("/files/{**}"))
        #expect(rest.matches("/files/a/b/c"))
        #expect(rest.matches("/files/a"))
        #expect(!rest.matches("/files"))
        #expect(rest.matches("/files/"), "{**} is zero or more characters (Envoy's URI template)")
        let trailing = try #require(PathMatcher("/foo/{**}/"))
        #expect(trailing.matches("/foo/bar/"))
        #expect(trailing.matches("/foo/a/b/"))
        #expect(!trailing.matches("/foo/bar"))
        #expect(PathMatcher("/a/{**}/b/{*}") == nil, "{**} must be the last operator")
        #expect(try #require(PathMatcher("/a/{**}/b")).matches("/a/x/y/b"), "a literal may follow it")
        #expect(!(try #require(PathMatcher("/a/{**}/b")).matches("/a/x/y/c")))
        #expect(PathMatcher("/a/x{*}") == nil, "{*} must be a whole segment")
        #expect(PathMatcher("/a/{*}*") == nil)
    }

    @Test func ipBlocks() throws {
        #expect(try #require(IPBlock("10.0.0.0/8")).contains("10.1.2.3"))
        #expect(!(try #require(IPBlock("10.0.0.0/8")).contains("11.0.0.1")))
        #expect(try #require(IPBlock("127.0.0.1")).contains("127.0.0.1"))
        #expect(!(try #require(IPBlock("127.0.0.1")).contains("127.0.0.2")))
        #expect(try #require(IPBlock("0.0.0.0/0")).contains("8.8.8.8"))
        #expect(try #require(IPBlock("fd00::/8")).contains("fd12::1"))
        #expect(try #require(IPBlock("::1")).contains("0:0:0:0:0:0:0:1"))
        #expect(try #require(IPBlock("10.0.0.0/8")).contains("::ffff:10.9.8.7"), "IPv4-mapped")
        #expect(try #require(IPBlock("192.168.1.128/25")).contains("192.168.1.200"))
        #expect(!(try #require(IPBlock("192.168.1.128/25")).contains("192.168.1.100")))
        for bad in ["10.0.0.0/33", "256.1.1.1", "10.0.0", "1::2::3", "::/129", "10.0.0.0/", "abc", "10.0.0.0/8x"] {
            #expect(IPBlock(bad) == nil, "\(bad)")
        }
        #expect(!(try #require(IPBlock("10.0.0.0/8")).contains("not-an-ip")))
    }
}
