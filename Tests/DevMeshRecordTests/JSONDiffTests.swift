@testable import DevMeshRecord
import Testing

@Suite struct JSONDiffTests {
    func json(_ text: String) -> JSONValue { JSONValue.parse(Array(text.utf8))! }

    @Test func identicalDocumentsHaveNoDifference() {
        let a = json(#"{"items": [{"id": 1, "price": 10}], "total": 10.0, "ok": true, "note": null}"#)
        #expect(JSONDiff.compare(a, a).isEmpty)
        // 10 and 10.0 are the same number.
        #expect(JSONDiff.compare(json(#"{"n": 10}"#), json(#"{"n": 10.0}"#)).isEmpty)
    }

    @Test func changesCarryTheirPaths() {
        let before = json(#"{"items": [{"id": 1, "price": 10}, {"id": 2, "price": 5}, {"id": 3, "price": 1}, {"id": 4, "price": 10}], "user": {"name": "ann"}}"#)
        let after = json(#"{"items": [{"id": 1, "price": 10}, {"id": 2, "price": 5}, {"id": 3, "price": 1}, {"id": 4, "price": 12}], "user": {"name": "ann", "vip": true}, "x y": 1}"#)
        let diff = JSONDiff.compare(before, after)
        // Keys in sorted order, so a diff reads the same every time.
        #expect(diff.changes.map(\.description) == ["$.items[3].price: 10 → 12", "$.user.vip: added true", "$['x y']: added 1"])
        let removed = JSONDiff.compare(json(#"{"a": [1, 2]}"#), json(#"{"a": [1]}"#))
        #expect(removed.changes.map(\.description) == ["$.a[1]: removed (was 2)"])
        let typeChange = JSONDiff.compare(json(#"{"a": "1"}"#), json(#"{"a": 1}"#))
        #expect(typeChange.changes.map(\.description) == [#"$.a: "1" → 1"#])
    }

    @Test func ignoreRulesCountWhatTheySuppress() throws {
        let before = json(#"{"requestId": "a", "items": [{"at": 1, "p": 1}, {"at": 2, "p": 2}], "meta": {"etag": "x", "deep": {"etag": "y"}}}"#)
        let after = json(#"{"requestId": "b", "items": [{"at": 3, "p": 1}, {"at": 4, "p": 3}], "meta": {"etag": "z", "deep": {"etag": "w"}}}"#)
        let rules = try ["$.requestId", "$.items[*].at", "$..etag", "re:^\\$\\.nothing"].map { try JSONDiff.IgnoreRule($0) }
        let diff = JSONDiff.compare(before, after, ignoring: rules)
        #expect(diff.changes.map(\.description) == ["$.items[1].p: 2 → 3"], "the one difference no rule covers")
        #expect(diff.suppressed.map(\.count) == [1, 2, 2, 0], "each rule says how much it hid, and a rule that hid nothing says 0")
        // A rule on a whole subtree hides everything below it — and says how much.
        let all = JSONDiff.compare(before, after, ignoring: [try JSONDiff.IgnoreRule("$")])
        #expect(all.isEmpty)
        #expect(all.suppressed.first?.count == 6)
    }

    @Test func badRulesAreErrors() {
        for bad in ["items", "$.a[", "$.a[x]", "$..", "re:("] {
            #expect(throws: JSONDiff.IgnoreRule.Invalid.self, "\(bad)") { try JSONDiff.IgnoreRule(bad) }
        }
    }

    @Test func hugeOrDeepBodiesAreBounded() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONValue.parse(Array(deep.utf8)) == nil, "nesting beyond 64 is refused")
        let many = "[" + (0..<2000).map(String.init).joined(separator: ",") + "]"
        let other = "[" + (0..<2000).map { String($0 + 1) }.joined(separator: ",") + "]"
        let diff = JSONDiff.compare(json(many), json(other))
        #expect(diff.changes.count == JSONDiff.maxChanges)
    }
}
