// swift-tools-version: 6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "micado",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "micado", targets: ["micado"]),
        .executable(name: "micado-bench", targets: ["micado-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/CoreOffice/XMLCoder", from: "0.18.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // The domain: types, errors, configuration, wire format (JSON, YAML, RFC 3339), archives. No I/O.
        .target(
            name: "MicadoCore",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // A typed client of the Docker Engine API (unix socket; TCP+TLS), version-negotiated.
        .target(
            name: "DockerEngine",
            dependencies: [
                "MicadoCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // Clouds: the clouds file, the CloudDriver protocol and its drivers, micado's CA.
        .target(
            name: "MicadoClouds",
            dependencies: [
                "MicadoCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "XMLCoder", package: "XMLCoder"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Applications: Compose files read into micado's model, with line-and-field errors.
        .target(
            name: "MicadoCompose",
            dependencies: ["MicadoCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // Persistence: SQLite through GRDB (embedded default) or PostgreSQL through postgres-nio; one schema.
        .target(
            name: "MicadoStore",
            dependencies: [
                "MicadoCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // The daemon: HTTP API, orchestration, reconcile loops.
        .target(
            name: "MicadoManager",
            dependencies: [
                "MicadoCore", "DockerEngine", "MicadoStore", "MicadoClouds", "MicadoCompose",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Dashboard"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedFiles"]
        ),
        // Builds the dashboard's files (with Debian's Chart.js) and openapi.yaml into the manager's code.
        .plugin(name: "EmbedFiles", capability: .buildTool()),
        // What the CLI and the benchmarks share: the manager's API client, exit codes, printing.
        .target(
            name: "MicadoClient",
            dependencies: [
                "MicadoCore", "MicadoManager", "DockerEngine",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The CLI and `micado manager`: the product users run (no stand-in, no benchmark).
        .executableTarget(
            name: "micado",
            dependencies: [
                "MicadoCore", "MicadoManager", "DockerEngine", "MicadoStore", "MicadoClouds", "MicadoClient", "MicadoCompose",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings,
            // Release builds are linked by lld with packed relative relocations and without
            // exporting micado's own symbols: the loader then reads a few kilobytes of them
            // where it read megabytes, and they no longer stay resident. With
            // `--static-swift-stdlib` (scripts/release.sh) the runtime and Foundation are linked
            // in, so no shared library is mapped whole.
            linkerSettings: [
                .unsafeFlags(
                    ["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"],
                    .when(configuration: .release)
                )
            ]
        ),
        // The benchmarks (`micado bench VERB` runs this binary) and the clouds' stand-ins that
        // the demo and the benchmarks boot.
        .executableTarget(
            name: "micado-bench",
            dependencies: [
                "MicadoCore", "MicadoManager", "DockerEngine", "MicadoStore", "MicadoClouds", "MicadoClient", "MicadoStandIns",
                "MicadoSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Simulation: a catalogue of instance types, workload traces and a simulated cloud and
        // swarm on a virtual clock, behind the manager's own seams (`micado bench sim`, `plan`).
        .target(
            name: "MicadoSim",
            dependencies: [
                "MicadoCore", "DockerEngine", "MicadoClouds", "MicadoManager", "MicadoStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Stateful stand-ins of the OpenStack, CloudSigma and CloudBroker APIs on loopback, answering
        // with the clouds' recorded documents, and the hypervisor that boots what they hold: the
        // drivers' end-to-end tests and the demo (`micado bench cloud-stand-in`) use them.
        .target(
            name: "MicadoStandIns",
            dependencies: [
                "MicadoClouds", "MicadoCore", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // What several test targets share: moto on loopback, test credentials, a network in moto.
        .target(
            name: "MicadoTestSupport",
            dependencies: [
                "MicadoClouds", "MicadoCore", "DockerEngine", "MicadoStandIns", "MicadoSim", "MicadoStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
                // The fault-injecting proxy in front of moto.
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/MicadoTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MicadoCoreTests",
            dependencies: ["MicadoCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "MicadoComposeTests", dependencies: ["MicadoCompose", "MicadoCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "MicadoCloudsTests",
            dependencies: [
                "MicadoClouds", "MicadoCore", "MicadoTestSupport",
                // The EC2 tests' fault-injecting proxy in front of moto.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "DockerEngineTests", dependencies: ["DockerEngine", "MicadoCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "MicadoStoreTests",
            dependencies: [
                "MicadoStore", "MicadoCore", "MicadoTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MicadoManagerTests",
            dependencies: [
                "MicadoManager", "MicadoCore", "MicadoStore", "DockerEngine", "MicadoClouds", "MicadoTestSupport", "MicadoSim",
                "MicadoClient",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "MicadoCore", "DockerEngine", "MicadoStore", "MicadoClouds", "MicadoStandIns", "MicadoTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
