import DevMeshCore
import Testing

@Suite("SPIFFE IDs")
struct SPIFFEIDTests {
    @Test("the devmesh form parses into its parts and prints back the same")
    func parsesGoodIDs() throws {
        let id = try #require(SPIFFEID(uri: "spiffe://cluster.local/ns/default/sa/users"))
        #expect(id == SPIFFEID(namespace: "default", serviceAccount: "users"))
        #expect(id.trustDomain == "cluster.local")
        #expect(id.uri == "spiffe://cluster.local/ns/default/sa/users")
        #expect(id.principal == "cluster.local/ns/default/sa/users")

        let other = try #require(SPIFFEID(uri: "spiffe://example.org/ns/istio-system/sa/Gateway_1.v-2"))
        #expect(other.trustDomain == "example.org")
        #expect(other.namespace == "istio-system")
        #expect(other.serviceAccount == "Gateway_1.v-2")
        #expect(other.principal == "example.org/ns/istio-system/sa/Gateway_1.v-2")
    }

    @Test("anything but the exact form is rejected", arguments: [
        "",
        "spiffe://",
        "spiffe://cluster.local",
        "spiffe://cluster.local/",
        "http://cluster.local/ns/a/sa/b",
        "SPIFFE://cluster.local/ns/a/sa/b",
        " spiffe://cluster.local/ns/a/sa/b",
        "spiffe://cluster.local/ns/a/sa/b/",
        "spiffe://cluster.local/ns/a/sa/b/extra",
        "spiffe://cluster.local/ns/a/sa",
        "spiffe://cluster.local/ns//sa/b",
        "spiffe://cluster.local/ns/a/sa/",
        "spiffe://cluster.local//ns/a/sa/b",
        "spiffe:///ns/a/sa/b",
        "spiffe://cluster.local/namespace/a/sa/b",
        "spiffe://cluster.local/ns/a/serviceaccount/b",
        "spiffe://cluster.local/sa/b/ns/a",
        "spiffe://cluster.local/ns/a%2Fb/sa/c",
        "spiffe://cluster.local/ns/a/sa/%62",
        "spiffe://cluster.local/ns/a/sa/b?x=1",
        "spiffe://cluster.local/ns/a/sa/b#frag",
        "spiffe://Cluster.Local/ns/a/sa/b",
        "spiffe://user@cluster.local/ns/a/sa/b",
        "spiffe://cluster.local:8080/ns/a/sa/b",
        "spiffe://cluster.local/ns/./sa/b",
        "spiffe://cluster.local/ns/../sa/b",
        "spiffe://cluster.local/ns/a b/sa/c",
        "spiffe://cluster.local/ns/é/sa/c",
    ])
    func rejectsBadIDs(_ uri: String) {
        #expect(SPIFFEID(uri: uri) == nil)
    }

    @Test("isValid tells identities whose URI would not parse back")
    func validity() {
        #expect(SPIFFEID(namespace: "default", serviceAccount: "users").isValid)
        #expect(!SPIFFEID(namespace: "a/b", serviceAccount: "users").isValid)
        #expect(!SPIFFEID(namespace: "default", serviceAccount: "").isValid)
        #expect(!SPIFFEID(trustDomain: "Upper.Case", namespace: "a", serviceAccount: "b").isValid)
    }
}
