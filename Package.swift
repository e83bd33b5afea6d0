// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "ManimFarm",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "farm-coordinator", targets: ["farm-coordinator"]),
        .executable(name: "farm-agent", targets: ["farm-agent"]),
        .executable(name: "farm", targets: ["farm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.9.0"..<"5.0.0"),
        // Already in the graph through Hummingbird: tracing costs no extra build.
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-service-context.git", from: "1.0.0"),
        // Tests only: random event histories against the coordinator's state machine.
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // C libraries from Debian, reached through pkg-config.
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(
            name: "CFFmpeg", pkgConfig: "libavcodec libavformat libavutil libswscale",
            providers: [.apt(["libavcodec-dev", "libavformat-dev", "libavutil-dev", "libswscale-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CPosix"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // A safe ZeroMQ socket that lives on its own thread.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"], swiftSettings: swiftSettings),
        // JSON-lines logging (swift-log handler) for the coordinator and agents.
        .target(name: "FarmLogging", dependencies: [.product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        // Traces: a swift-distributed-tracing Tracer that exports OTLP/HTTP JSON (off unless configured).
        .target(
            name: "FarmTracing",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
            ],
            swiftSettings: swiftSettings),
        // The wire protocol between coordinator and agents.
        .target(name: "FarmProtocol", dependencies: ["CLZ4", "CZlib"], swiftSettings: swiftSettings),
        // RGBA to YUV 4:2:0, optimised in every build: it runs on every frame.
        .target(name: "CPixels", cSettings: [.unsafeFlags(["-O3"])]),
        // Frames in, CMAF segments out: H.264 encoding and fMP4 muxing over libav.
        .target(name: "Media", dependencies: ["CFFmpeg", "CPixels"], swiftSettings: swiftSettings),
        // Joining segments into HLS renditions and an MP4 (pure Swift, no libav).
        .target(name: "Packaging", dependencies: ["FarmProtocol", "CPosix"], swiftSettings: swiftSettings),
        // Object storage: AWS Signature V4, S3 over its REST API, credentials, retries.
        .target(
            name: "ObjectStorage",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        // The domain (videos, tasks, attempts, agents) and the HTTP API's types: what the stores,
        // the coordinator and the `farm` CLI share.
        .target(name: "FarmModel", dependencies: ["FarmProtocol"], swiftSettings: swiftSettings),
        // Durable coordinator state: the store contract, embedded SQLite and PostgreSQL.
        .target(
            name: "FarmStorage",
            dependencies: [
                "FarmProtocol", "FarmModel",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "Coordinator",
            dependencies: [
                "FarmProtocol", "FarmModel", "ZeroMQ", "Packaging", "FarmStorage", "ObjectStorage", "FarmTracing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Discovery/discover_scenes.py"), .copy("Web"), .copy("API/openapi.json")],
            swiftSettings: swiftSettings),
        .target(
            name: "Agent",
            dependencies: [
                "FarmProtocol", "ZeroMQ", "Media", "Packaging", "CPosix", "FarmTracing",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Shim/farm_shim.py"), .copy("Shim/farm_voiceover.py"), .copy("Shim/farm_sandbox.py"), .copy("Shim/farm_tex.py"), .copy("Shim/manim_api.py")],
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "farm-coordinator",
            dependencies: ["Coordinator", "FarmStorage", "ZeroMQ", "ObjectStorage", "FarmLogging", "FarmTracing", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "farm-agent",
            dependencies: ["Agent", "ZeroMQ", "FarmLogging", "FarmTracing", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "farm",
            dependencies: [
                "FarmModel", "FarmProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        // Benchmarks (bench/): run with `make bench-store`.
        .executableTarget(
            name: "StoreBenchmark",
            dependencies: [
                "FarmStorage", "FarmModel", "FarmProtocol",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/StoreBenchmark",
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "CoreBenchmark",
            dependencies: [
                "Coordinator", "FarmStorage", "FarmModel", "FarmProtocol",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/CoreBenchmark",
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "AssemblyBenchmark",
            dependencies: ["Coordinator", "FarmModel", "FarmProtocol", "Media", "Packaging", "ObjectStorage"],
            path: "bench/AssemblyBenchmark",
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "RestoreBenchmark",
            dependencies: ["Coordinator", "FarmStorage", "FarmModel", "FarmProtocol", .product(name: "Logging", package: "swift-log")],
            path: "bench/RestoreBenchmark",
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "EncodeBenchmark",
            dependencies: ["Media"],
            path: "bench/EncodeBenchmark",
            swiftSettings: swiftSettings),

        .testTarget(
            name: "FarmTests",
            dependencies: [
                "FarmProtocol", "FarmModel", "ZeroMQ", "Media", "CPixels", "CFFmpeg", "Packaging", "FarmStorage", "Coordinator", "Agent", "ObjectStorage", "FarmLogging", "FarmTracing",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings),
    ]
)
