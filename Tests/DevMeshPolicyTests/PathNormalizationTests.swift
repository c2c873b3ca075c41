import DevMeshCore
@testable import DevMeshPolicy
import Testing

@Suite struct PathNormalizationTests {
    typealias Outcome = Result<String, PathNormalization.Rejection>

    /// One request target and what each mode makes of it: BASE, MERGE_SLASHES,
    /// DECODE_AND_MERGE_SLASHES.
    struct Case: Sendable, CustomTestStringConvertible {
        let target: String
        let base: Outcome
        let merge: Outcome
        let decode: Outcome

        var testDescription: String { target.debugDescription }

        func expected(_ mode: PolicyNormalization) -> Outcome {
            switch mode {
            case .base: base
            case .mergeSlashes: merge
            case .decodeAndMergeSlashes: decode
            }
        }
    }

    static func same(_ target: String, _ all: String) -> Case {
        Case(target: target, base: .success(all), merge: .success(all), decode: .success(all))
    }

    static func modes(_ target: String, base: String, merge: String, decode: String) -> Case {
        Case(target: target, base: .success(base), merge: .success(merge), decode: .success(decode))
    }

    static func refused(_ target: String, _ why: PathNormalization.Rejection) -> Case {
        Case(target: target, base: .failure(why), merge: .failure(why), decode: .failure(why))
    }

    static let cases: [Case] = [
        // The bypass corpus.
        same("/a/../admin", "/admin"),
        modes("//admin", base: "//admin", merge: "/admin", decode: "/admin"),
        modes("/admin%2f", base: "/admin%2F", merge: "/admin%2F", decode: "/admin/"),
        modes("/admin%2F..", base: "/admin%2F..", merge: "/admin%2F..", decode: "/"),
        same("/%2e%2e/admin", "/admin"),
        same("/a/%2e%2e/admin", "/admin"),
        same("/ADMIN", "/ADMIN"),
        same("/admin;x", "/admin;x"),
        refused("/admin#f", .fragment),
        modes("/%5cadmin", base: "/%5Cadmin", merge: "/%5Cadmin", decode: "/admin"),
        modes("/a%5c..%5cadmin", base: "/a%5C..%5Cadmin", merge: "/a%5C..%5Cadmin", decode: "/admin"),
        // Decoded once: `%25` stays an escape and the `2e` after it is plain text.
        same("/%252e%252e/admin", "/%252e%252e/admin"),
        same("/admin/./x", "/admin/x"),
        same("/./admin", "/admin"),
        same("/admin/..", "/"),
        same("/../../admin", "/admin"),
        modes("/a//b///c", base: "/a//b///c", merge: "/a/b/c", decode: "/a/b/c"),
        same("/%41dmin", "/Admin"),
        same("/%7eu", "/~u"),
        refused("/x%00y", .nullByte),
        same("/x?y=%2e%2e&z=//", "/x?y=%2e%2e&z=//"),
        same("*", "*"),

        // Istio's documented examples (reference/config/security/normalization).
        modes("/some%2fdata/%61%62%63", base: "/some%2Fdata/abc", merge: "/some%2Fdata/abc", decode: "/some/data/abc"),
        same("/some\\data", "/some/data"),
        modes("/some//data///abc", base: "/some//data///abc", merge: "/some/data/abc", decode: "/some/data/abc"),
        same("/public/./data/abc/../xyz", "/public/data/xyz"),
        same("/foo?v=1", "/foo?v=1"),

        // Dots.
        same("/a/.%2e/b", "/b"),
        same("/a/%2E./b", "/b"),
        same("/a/%2e/b", "/a/b"),
        same("/a.%2e/b", "/a../b"),
        same("/.../x", "/.../x"),
        same("/.hidden/..x", "/.hidden/..x"),
        same("/a/b/../../..", "/"),
        same("/a/.", "/a/"),
        same("/.", "/"),
        same("/%2e", "/"),
        same("/..", "/"),
        same("/", "/"),
        modes("/a//..", base: "/a/", merge: "/a/", decode: "/a/"),
        // Envoy merges after removing dot segments: the empty segment absorbs the `..`.
        modes("/a//../b", base: "/a/b", merge: "/a/b", decode: "/a/b"),
        modes("/a/..//b", base: "//b", merge: "/b", decode: "/b"),
        modes("/a%2F%2F..", base: "/a%2F%2F..", merge: "/a%2F%2F..", decode: "/a/"),
        // Path parameters on dot segments (Envoy's stripParametersFromDotSegments).
        same("/..;x/admin", "/admin"),
        same("/a/..;/admin", "/admin"),
        same("/a/.;p/b", "/a/b"),
        same("/a/%2e%2e;x/b", "/b"),
        same("/a/...;x/b", "/a/...;x/b"),

        // Backslashes.
        same("/a\\..\\admin", "/admin"),
        modes("/a\\\\b", base: "/a//b", merge: "/a/b", decode: "/a/b"),
        refused("\\admin", .notAbsolute),

        // Escapes kept, decoded, upper-cased.
        same("/%2d%5f%30%39%5A%7E", "/-_09Z~"),
        same("/%3f%23%20%21%25", "/%3F%23%20%21%25"),
        same("/%2525", "/%2525"),
        same("/%c3%a9", "/%C3%A9"),
        same("/caf\u{E9}", "/caf%C3%A9"),
        same("/a b\"<>^`{|}", "/a%20b%22%3C%3E%5E%60%7B%7C%7D"),
        same("/!$&'()*+,;=:@[]", "/!$&'()*+,;=:@[]"),
        modes("/A%2fb%5C", base: "/A%2Fb%5C", merge: "/A%2Fb%5C", decode: "/A/b/"),

        // Queries are never touched.
        same("/x?", "/x?"),
        same("/x?%zz", "/x?%zz"),
        same("/a/../b?c/../d", "/b?c/../d"),
        same("/x?a=1?b=2", "/x?a=1?b=2"),

        // Refusals.
        refused("/%zz", .invalidEncoding),
        refused("/%4", .invalidEncoding),
        refused("/a%", .invalidEncoding),
        refused("/%%2e", .invalidEncoding),
        refused("/x%00", .nullByte),
        refused("/x\u{0}y", .nullByte),
        refused("/x#", .fragment),
        refused("/x?a#b", .fragment),
        refused("admin", .notAbsolute),
        refused("", .notAbsolute),
        refused("?x", .notAbsolute),
        refused("http://h/admin", .notAbsolute),
    ]

    static let modeList: [PolicyNormalization] = [.base, .mergeSlashes, .decodeAndMergeSlashes]

    @Test func tableIsLargeEnough() {
        #expect(Self.cases.count >= 40)
        #expect(Set(Self.cases.map(\.target)).count == Self.cases.count)
    }

    @Test(arguments: cases)
    func normalizes(_ c: Case) {
        for mode in Self.modeList {
            let got = PathNormalization.normalize(c.target, mode: mode)
            #expect(got == c.expected(mode), "\(c.target.debugDescription) in \(mode.rawValue)")
        }
    }

    @Test(arguments: cases)
    func isIdempotent(_ c: Case) {
        for mode in Self.modeList {
            guard case .success(let once) = PathNormalization.normalize(c.target, mode: mode) else { continue }
            #expect(PathNormalization.normalize(once, mode: mode) == .success(once), "\(c.target.debugDescription) in \(mode.rawValue)")
        }
    }

    @Test(arguments: cases)
    func policyPathDropsTheQuery(_ c: Case) {
        for mode in Self.modeList {
            let expected = c.expected(mode).map { normalized in
                normalized.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            }
            #expect(PathNormalization.policyPath(c.target, mode: mode) == expected, "\(c.target.debugDescription) in \(mode.rawValue)")
        }
    }

    @Test func policyPathExamples() {
        #expect(PathNormalization.policyPath("/x?y=%2e%2e&z=//", mode: .base) == .success("/x"))
        #expect(PathNormalization.policyPath("/a//b?q", mode: .mergeSlashes) == .success("/a/b"))
        #expect(PathNormalization.policyPath("/a%2fb?q", mode: .decodeAndMergeSlashes) == .success("/a/b"))
        #expect(PathNormalization.policyPath("*", mode: .base) == .success("*"))
        #expect(PathNormalization.policyPath("/a#b", mode: .base) == .failure(.fragment))
    }

    @Test func rejectionsDescribeThemselves() {
        let all: [PathNormalization.Rejection] = [.nullByte, .fragment, .invalidEncoding, .notAbsolute]
        #expect(Set(all.map(\.description)).count == all.count)
        #expect(all.allSatisfy { !$0.description.isEmpty })
    }

    // MARK: - Randomised

    /// SplitMix64 (Steele, Lea, Flood 2014): deterministic, so a failure reproduces.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let alphabet: [String] = [
        "/", "/", "/", ".", ".", "%", "2", "e", "E", "f", "F", "5", "c", "C", "a", "d", "m", "i", "n",
        "\\", ";", "%2e", "%2f", "%5c", "%2E", "%2F", "%5C", "%25", "..", "/..", "/.", "//", "?", "~", "0", "z",
    ]

    @Test func randomPathsKeepTheInvariants() {
        var rng = SplitMix64(state: 0x00C0_FFEE_D00D_F00D)
        var accepted = 0
        for _ in 0..<3_000 {
            let length = Int.random(in: 0...24, using: &rng)
            var target = "/"
            for _ in 0..<length { target += Self.alphabet.randomElement(using: &rng)! }
            for mode in Self.modeList {
                guard case .success(let once) = PathNormalization.normalize(target, mode: mode) else { continue }
                accepted += 1
                let context = "\(target.debugDescription) in \(mode.rawValue) → \(once.debugDescription)"
                #expect(PathNormalization.normalize(once, mode: mode) == .success(once), "idempotence: \(context)")
                guard case .success(let path) = PathNormalization.policyPath(target, mode: mode) else {
                    Issue.record("policyPath refused what normalize accepted: \(context)")
                    continue
                }
                #expect(path.hasPrefix("/"), "\(context)")
                #expect(!path.contains("\\"), "\(context)")
                let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
                #expect(!segments.contains { $0 == "." || $0 == ".." }, "dot segment: \(context)")
                #expect(!segments.contains { $0.hasPrefix(".;") || $0.hasPrefix("..;") }, "dot segment: \(context)")
                #expect(!path.contains("/./") && !path.contains("/../"), "\(context)")
                if mode != .base {
                    #expect(!path.contains("//"), "merged: \(context)")
                }
                if mode == .decodeAndMergeSlashes {
                    #expect(!path.uppercased().contains("%2F") && !path.uppercased().contains("%5C"), "decoded: \(context)")
                }
                // Only escapes remain that must stay escapes, in upper case.
                #expect(!path.contains("%2e") && !path.contains("%2E"), "dot left encoded: \(context)")
            }
        }
        #expect(accepted > 1_000)
    }
}
