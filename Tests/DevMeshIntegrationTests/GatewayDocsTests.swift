import DevMeshCore
import DevMeshTesting
import Foundation
import Testing

/// The gateway's API docs, on the sample shop (each service declares `openapi:`), over TLS.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayDocsTests {
    @Test func theIndexListsTheSampleAPIsWithTheirWaysIn() async throws {
        let stack = try WebUITests.shop()
        let (up, https) = try await GatewayTests.up(stack, services: 5)
        let base = "https://localhost:\(https)"

        let index = try await GatewayCacheTests.call(base, "/_devmesh/docs")
        #expect(index.status == "200" && index.field("content-type") == "text/html; charset=utf-8", "\(index.fields)")
        #expect(index.field("content-security-policy")?.contains("default-src 'none'") == true, "no script runs on these pages")
        for title in ["Users", "Inventory", "Orders"] {
            #expect(index.body.contains(">\(title)</a>"), "the index lists \(title): \(index.body.prefix(2000))")
        }
        #expect(index.body.contains("href=\"/_devmesh/docs/inventory\""))
        #expect(index.body.contains("<b>frontend</b>") && index.body.contains("no <code>openapi:</code> declared"))
        #expect(index.body.contains("\(base)/api/catalog</code>"), "the catalogue route into inventory")

        let inventory = try await GatewayCacheTests.call(base, "/_devmesh/docs/inventory")
        #expect(inventory.status == "200")
        #expect(inventory.body.contains("<code>/items/{sku}</code>") && inventory.body.contains("operationId <code>getItem</code>"))
        #expect(inventory.body.contains("<code>\(base)/api/catalog/{sku}</code>"), "the public URL through the rewrite")
        #expect(inventory.body.contains("https://inventory.localhost:\(https)/items/{sku}"), "and through its automatic host")
        #expect(inventory.body.contains("$ref: '#/components/schemas/Item'") || inventory.body.contains("$ref: &#39;#/components/schemas/Item&#39;"),
                "schemas shown, refs named")
        let raw = try await GatewayCacheTests.call(base, "/_devmesh/docs/inventory/openapi")
        #expect(raw.status == "200" && raw.body.hasPrefix("openapi: 3.1.0"), "\(raw.fields)")

        #expect(try await GatewayCacheTests.call(base, "/_devmesh/docs/frontend").status == "404", "no document, no page")
        #expect(try await GatewayCacheTests.call(base, "/_devmesh/docs", ["-X", "POST"]).status == "405")
        #expect(!up.output.contains { $0.contains("_devmesh") }, "never forwarded to a service")
        up.signal(SIGTERM)
        #expect(await up.exitCode() == 0)
    }

    @Test func aBrokenDocumentIsAWarningAndTheReservedPrefixAnError() async throws {
        let stack = try TempStack([
            "Procfile": "api: python3 -m http.server $PORT --bind 127.0.0.1\n",
            "api.yaml": "paths: {}\n",
            "devmesh.yaml": """
                services:
                  api: {openapi: api.yaml}
                gateway:
                  routes:
                    - {path: /_devmesh/x, to: api}

                """,
        ])
        let check = try await DevMeshBinary.runDetached(["check"], in: stack.root)
        #expect(check.code == 1)
        #expect(check.stdout.contains("devmesh.yaml:2:") && check.stdout.contains("the OpenAPI file api.yaml of `api` cannot be used")
                && check.stdout.contains("not an OpenAPI document"), "\(check.stdout)")
        #expect(check.stdout.contains("`/_devmesh/` is the gateway's own"), "\(check.stdout)")
    }
}
