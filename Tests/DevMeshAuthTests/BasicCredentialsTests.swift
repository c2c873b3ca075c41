@testable import DevMeshAuth
import Foundation
import Testing

struct BasicCredentialsTests {
    /// `htpasswd -B` output (`$2y$`, cost 6) for "open sesame", and a `$2b$` hash of "hunter2".
    static let file = """
        # users of the admin routes
        ali:$2y$06$qBxblXiJckENfGpdstwQP./dFV96eWoQ54gGD/zuv7RqSyx0tI4US
        bob:$2b$06$E5lJ1jFb.NaNcJYxro0DGud1ytvpx3100dpAuUErPGA8bO1rvCcB6

        """

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    @Test func readsBcryptInEverySpellingHtpasswdWrites() throws {
        let (users, problems) = BasicCredentials.parse(Self.file, file: "htpasswd")
        #expect(problems.isEmpty, "\(problems)")
        #expect(users.userNames == ["ali", "bob"])
        #expect(users.verify(user: "ali", password: "open sesame"), "$2y$ is read as $2b$")
        #expect(users.verify(user: "bob", password: "hunter2"))
        #expect(!users.verify(user: "bob", password: "hunter3"))
        #expect(!users.verify(user: "eve", password: "hunter2"), "unknown users are checked against a decoy, and fail")
    }

    @Test func weakOrBrokenLinesAreErrorsThatSayHowToMakeAGoodOne() {
        let text = """
            apr:$apr1$abcdefgh$0123456789abcdefghijkl
            sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=
            plain:secret
            nocolon
            bob:$2b$06$E5lJ1jFb.NaNcJYxro0DGud1ytvpx3100dpAuUErPGA8bO1rvCcB6
            bob:$2b$06$E5lJ1jFb.NaNcJYxro0DGud1ytvpx3100dpAuUErPGA8bO1rvCcB6
            """
        let (users, problems) = BasicCredentials.parse(text, file: "users.htpasswd")
        #expect(users.userNames == ["bob"])
        let messages = problems.map(\.message)
        #expect(problems.count == 5, "\(messages)")
        #expect(messages[0].contains("`apr`") && messages[0].contains("$apr1$"))
        #expect(messages[1].contains("{SHA}"))
        #expect(messages[2].contains("plain text"))
        #expect(messages[3].contains("USER:HASH"))
        #expect(messages[4].contains("twice"))
        #expect(problems.allSatisfy { $0.severity == .error && ($0.location?.file == "users.htpasswd") })
        #expect(problems[0].location?.line == 1 && problems[4].location?.line == 6)
        #expect(problems[0].hint?.contains("htpasswd -B users.htpasswd") == true)
        #expect(BasicCredentials.parse("# nobody\n", file: "f").1.first?.severity == .warning)
    }

    @Test func theEventLoopAnswersFromTheCacheOnlyAfterAVerification() {
        let users = BasicCredentials.parse(Self.file, file: "htpasswd").0
        #expect(users.check(authorization: nil) == .missing)
        #expect(users.check(authorization: "Bearer abc") == .missing)
        if case .malformed = users.check(authorization: "Basic !!!") {} else { Issue.record("bad base64 is malformed") }
        if case .malformed = users.check(authorization: "Basic " + Data("nocolon".utf8).base64EncodedString()) {} else {
            Issue.record("no colon is malformed")
        }
        let header = Self.basic("bob", "hunter2")
        #expect(users.check(authorization: header) == .verify(user: "bob", password: "hunter2"))
        #expect(users.check(authorization: "basic " + header.dropFirst(6)) == .verify(user: "bob", password: "hunter2"), "the scheme in any case")
        let now = Date()
        #expect(users.verify(user: "bob", password: "hunter2", now: now))
        #expect(users.check(authorization: header, now: now) == .verified(user: "bob"))
        #expect(users.check(authorization: header, now: now + BasicCredentials.rememberFor + 1) == .verify(user: "bob", password: "hunter2"),
                "remembered for a while only")
        #expect(!users.verify(user: "bob", password: "wrong", now: now))
        #expect(users.check(authorization: Self.basic("bob", "wrong"), now: now) == .verify(user: "bob", password: "wrong"),
                "a failure is never remembered as a success")
        #expect(users.check(authorization: Self.basic("bob", "hunter2:x")) == .verify(user: "bob", password: "hunter2:x"),
                "the password may contain a colon")
    }
}
