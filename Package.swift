// swift-tools-version: 6.1
//
// Trellis: a graph database server in the mould of Neo4j 3.x Enterprise HA.
// Dependencies point one way:
//   trellis (exe) → TrellisServer → BoltServer/HTTPAPI/ClusterNIO → Cypher/ClusterCore → GraphKernel → GraphValues
import PackageDescription

let package = Package(
    name: "Trellis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "trellis", targets: ["trellis"]),
        .executable(name: "trellis-tools", targets: ["TrellisTools"]),
        .library(name: "GraphKernel", targets: ["GraphKernel"]),
        .library(name: "Cypher", targets: ["Cypher"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
    ],
    targets: [
        // Values shared by every layer: property values, temporal and spatial types, Neo4j status codes.
        .target(name: "GraphValues"),
        // Storage kernel: page cache, record stores, WAL, recovery, locks, indexes. No networking.
        .target(
            name: "GraphKernel",
            dependencies: [
                "GraphValues",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Cypher: parse, plan, execute over kernel transactions.
        .target(name: "Cypher", dependencies: ["GraphKernel", "GraphValues"]),
        // The contract between protocol front ends (Bolt, HTTP) and the database service.
        .target(name: "TrellisService", dependencies: ["GraphValues"]),
        // Bolt: PackStream codec and connection state machine (NIOCore for ByteBuffer only).
        .target(
            name: "BoltCore",
            dependencies: ["GraphValues", "TrellisService", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Bolt: SwiftNIO channel handlers, TLS.
        .target(
            name: "BoltServer",
            dependencies: [
                "BoltCore", "TrellisService",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // HTTP API: discovery, transactional Cypher endpoint, HA status endpoints, browser page.
        .target(
            name: "HTTPAPI",
            dependencies: [
                "GraphValues", "TrellisService",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // HA cluster logic as pure state machines: failure detection, election, replication, branch detection.
        .target(name: "ClusterCore"),
        // The cluster's I/O shell: transport, timers, store copy.
        .target(
            name: "ClusterNIO",
            dependencies: [
                "ClusterCore", "GraphKernel", "GraphValues", "BoltCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Deterministic cluster simulation (test support).
        .target(name: "ClusterSim", dependencies: ["ClusterCore"]),
        // Configuration, auth, logs, lifecycle, wiring.
        .target(
            name: "TrellisServer",
            dependencies: [
                "GraphKernel", "Cypher", "TrellisService", "BoltServer", "HTTPAPI", "ClusterCore", "ClusterNIO",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The Prometheus metrics endpoint (Metrics/PrometheusEndpoint.swift).
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "trellis",
            dependencies: [
                "TrellisServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Crash-test child processes and benchmarks (kernel, Cypher and the HA data port in-process).
        .executableTarget(
            name: "TrellisTools",
            dependencies: [
                "GraphKernel", "Cypher", "ClusterNIO", "ClusterCore", "BoltServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),

        .testTarget(name: "GraphValuesTests", dependencies: ["GraphValues"]),
        .testTarget(
            name: "GraphKernelTests", dependencies: ["GraphKernel", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "CypherTests", dependencies: ["Cypher", "GraphKernel"],
            // Read by the TCK test through #filePath, not bundled as a resource.
            exclude: ["TCK/floor.txt"]
        ),
        .testTarget(
            name: "BoltCoreTests",
            dependencies: ["BoltCore", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "BoltServerTests",
            dependencies: [
                "BoltServer", "BoltCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "HTTPAPITests", dependencies: ["HTTPAPI"]),
        .testTarget(name: "ClusterCoreTests", dependencies: ["ClusterCore", "ClusterSim"]),
        .testTarget(
            name: "ClusterNIOTests",
            dependencies: [
                "ClusterNIO", "ClusterCore", "GraphKernel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "TrellisServerTests", dependencies: ["TrellisServer"]),
        .testTarget(name: "IntegrationTests", dependencies: ["GraphKernel"]),
    ]
)
