// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "devmesh",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "devmesh", targets: ["devmesh"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.1.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        // Only its bcrypt (OpenBSD's C code) for htpasswd files: swift-crypto has no bcrypt.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
    ],
    targets: [
        // Pure: config model, adapters, diagnostics, supervision state machine. No I/O.
        .target(
            name: "DevMeshCore",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        // Pure: Istio AuthorizationPolicy / RequestAuthentication documents, path normalisation,
        // and the evaluator that turns a request into a decision with its reason. No I/O.
        .target(
            name: "DevMeshPolicy",
            dependencies: ["DevMeshCore", .product(name: "Yams", package: "Yams")]
        ),
        // JWT verification for RequestAuthentication (jwt-kit): tokens found where the rules say,
        // checked against each issuer's JWKS; keys are put in a store by whoever fetches them.
        .target(
            name: "DevMeshAuth",
            dependencies: [
                "DevMeshCore",
                "DevMeshPolicy",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Pure: what recorded exchanges need — redaction with a per-user HMAC, JSON values and
        // their structural diff with counted ignore rules (record/replay, issue 8).
        .target(
            name: "DevMeshRecord",
            // DevMeshOTLP for its bounded gunzip only (recorded bodies are compared decoded).
            dependencies: [
                "DevMeshCore", "DevMeshOTLP", "DevMeshHTTP1", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Pure: the strict HTTP/1.1 framer of the data plane (the security boundary; fuzzed).
        .target(name: "DevMeshHTTP1"),
        // The SwiftNIO data plane: sidecar listeners, the HTTP/1.1 proxy, balancing, pooling.
        .target(
            name: "DevMeshProxy",
            dependencies: [
                "DevMeshCore",
                "CZlib",
                "DevMeshPolicy",
                "DevMeshAuth",
                "DevMeshHTTP1",
                "DevMeshTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The local CA: certificates for the gateway and workload identities (SPIFFE), TLS
        // configurations for the edge and for mTLS between sidecars, the system trust store.
        .target(
            name: "DevMeshTLS",
            dependencies: [
                "DevMeshCore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The telemetry store: spans, logs (and later recorded requests) in `.devmesh/devmesh.db`,
        // GRDB on the system libsqlite3; one writer thread, readers for the CLI and API.
        .target(
            name: "DevMeshStore",
            dependencies: [
                "DevMeshCore",
                "CDevMeshShims",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // OTLP/HTTP bodies (protobuf with committed generated code — scripts/regen-otlp.sh — and
        // JSON, gzip) to and from the store's model, with limits on untrusted input.
        .target(
            name: "DevMeshOTLP",
            dependencies: [
                "DevMeshCore",
                "CZlib",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // The system zlib (gzip request bodies).
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // GNU libc calls Swift's Glibc module does not expose (pipe2, addchdir_np).
        .target(name: "CDevMeshShims"),
        // Child processes: spawn, log capture, health checks, restart, stop.
        .target(
            name: "DevMeshSupervisor",
            dependencies: [
                "DevMeshCore",
                "CDevMeshShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Admin JSON API and the web UI (loopback only); `Assets/` is compiled into the binary.
        .target(
            name: "DevMeshAPI",
            dependencies: [
                "DevMeshCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("Assets")]
        ),
        // Composition root: config → supervisor + admin API → one ServiceGroup.
        .target(
            name: "DevMeshApp",
            dependencies: [
                "DevMeshCore",
                "DevMeshPolicy",
                "DevMeshAuth",
                "DevMeshSupervisor",
                "DevMeshAPI",
                "DevMeshProxy",
                "DevMeshTLS",
                "DevMeshStore",
                "DevMeshOTLP",
                "DevMeshRecord",
                "CDevMeshShims",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "DevMeshCLI",
            dependencies: [
                "DevMeshCore",
                "DevMeshPolicy",
                "DevMeshAuth",
                "DevMeshApp",
                "DevMeshRecord",
                "DevMeshSupervisor",
                "DevMeshTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "devmesh", dependencies: ["DevMeshCLI"]),
        // The store benchmark (bench/store.sh): writes per second and query latency at 1 M spans.
        .executableTarget(name: "devmesh-store-bench", dependencies: ["DevMeshStore", "DevMeshCore"], path: "bench/store"),
        // Test helpers (a product of their own, per STYLE.md): fixtures, recorders, waiting without sleeps.
        .target(
            name: "DevMeshTesting",
            dependencies: [
                "DevMeshCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                "DevMeshSupervisor",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),

        .testTarget(name: "DevMeshCoreTests", dependencies: ["DevMeshCore"], exclude: ["Golden"]),
        .testTarget(name: "DevMeshHTTP1Tests", dependencies: [
            "DevMeshHTTP1",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "DevMeshProxyTests", dependencies: [
            "DevMeshProxy", "DevMeshCore", "DevMeshHTTP1", "DevMeshTesting", "DevMeshSupervisor", "DevMeshTLS", "DevMeshPolicy",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "DevMeshAPITests", dependencies: [
            "DevMeshAPI", "DevMeshCore", "DevMeshTesting",
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "DevMeshPolicyTests", dependencies: [
            "DevMeshPolicy", "DevMeshCore",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "DevMeshAuthTests", dependencies: [
            "DevMeshAuth", "DevMeshPolicy", "DevMeshCore", "DevMeshTesting",
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .testTarget(name: "DevMeshRecordTests", dependencies: ["DevMeshRecord", "DevMeshCore", "DevMeshOTLP"]),
        .testTarget(name: "DevMeshOTLPTests", dependencies: ["DevMeshOTLP", "DevMeshCore"]),
        .testTarget(name: "DevMeshStoreTests", dependencies: ["DevMeshStore", "DevMeshCore", "DevMeshTesting"]),
        .testTarget(name: "DevMeshTLSTests", dependencies: ["DevMeshTLS", "DevMeshCore", "DevMeshTesting"]),
        .testTarget(name: "DevMeshSupervisorTests", dependencies: ["DevMeshSupervisor", "DevMeshCore", "DevMeshTesting"]),
        .testTarget(
            name: "DevMeshIntegrationTests",
            dependencies: ["devmesh", "DevMeshCore", "DevMeshSupervisor", "DevMeshTesting", "DevMeshStore", "DevMeshOTLP", "DevMeshTLS",
                           .product(name: "X509", package: "swift-certificates"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "NIOHTTP2", package: "swift-nio-http2"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
    ]
)
