// swift-tools-version:6.1
import PackageDescription

// The agent targets (CamProtocol, CamCore, CCamShim, CamRuntime, camagent) must
// stay Embedded-Swift clean: no Foundation, no existentials in hot paths.
// The host build here compiles them as normal Swift for tests;
// Scripts/cross-build compiles the same sources in Embedded mode.
let stubSettings: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "camagent",
    products: [
        .executable(name: "camagent", targets: ["camagent"]),
        .executable(name: "camagent-endpoint", targets: ["camagent-endpoint"]),
        .executable(name: "camagent-streampoint", targets: ["camagent-streampoint"]),
        .executable(name: "camagent-simcam", targets: ["camagent-simcam"]),
        .executable(name: "camagent-fleet", targets: ["camagent-fleet"]),
        .executable(name: "camagent-firmware", targets: ["camagent-firmware"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", exact: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
    ],
    targets: [
        // Wire protocol shared by agent and stubs. Pure Swift, no imports.
        .target(name: "CamProtocol", path: "Agent/Protocol"),
        // Agent state machines and config. Pure: no syscalls, time is a parameter.
        .target(name: "CamCore", dependencies: ["CamProtocol"], path: "Agent/Core"),
        // RTSP, SDP, RTP/RTCP and H.264/H.265/AAC (de)packetisation. Pure, no imports:
        // shared by the streampoint, simcam and (for the UDP uplink) the agent.
        .target(name: "CamMedia", path: "Agent/Media"),
        // The few libc calls the agent makes; integer and pointer+length arguments only.
        .target(
            name: "CCamShim", path: "Agent/CShim",
            linkerSettings: [.linkedLibrary("mbedtls"), .linkedLibrary("mbedx509"), .linkedLibrary("mbedcrypto")]),
        // poll(2) loop, sockets, logging: drives the CamCore state machines.
        .target(name: "CamRuntime", dependencies: ["CamCore", "CCamShim"], path: "Agent/Runtime"),
        .executableTarget(name: "camagent", dependencies: ["CamRuntime"], path: "Agent/Main"),

        // Host-only servers (full Swift, SwiftNIO, NIOSSL for TLS on agent links).
        .target(
            name: "CamNIO",
            dependencies: [
                "CamProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "ServerStubs/NIOSupport", swiftSettings: stubSettings),
        // Every server metric named in one place, and its Prometheus exposition for /metrics.
        .target(
            name: "ServerMetrics",
            dependencies: [
                "CamProtocol",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "ServerStubs/Metrics", swiftSettings: stubSettings),
        // The endpoint's logic: the registry store (SQLite through GRDB, PostgreSQL
        // through postgres-nio), the agent link (state machine and NIO handler), the
        // session table, assignment and admission, and the HTTP API and console.
        .target(
            name: "EndpointCore",
            dependencies: [
                "CamProtocol", "CamNIO", "ServerMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                // The console: operators' password hashes (PBKDF2).
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "ServerStubs/EndpointCore", swiftSettings: stubSettings),
        .executableTarget(
            name: "camagent-endpoint",
            dependencies: [
                "CamNIO", "CamProtocol", "EndpointCore", "ServerMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "ServerStubs/Endpoint", swiftSettings: stubSettings),
        // Host-side media stages on CamMedia frames: fMP4 muxer, GOP cache, viewer
        // queues, ingest state machine. Pure; shared by the streampoint and recording.
        .target(name: "MediaCore", dependencies: ["CamMedia"], path: "ServerStubs/MediaCore", swiftSettings: stubSettings),
        // Recording: the frame log (docs/RECORDING.md), its writer, index,
        // retention, playback and export. Files, not a database.
        .target(name: "RecordingCore", dependencies: ["CamMedia", "MediaCore"], path: "ServerStubs/RecordingCore", swiftSettings: stubSettings),
        // The streampoint's logic: link and splice state machines, the registry of
        // sessions and tunnels, the NIO handlers, and the channel to the endpoint.
        .target(
            name: "StreampointCore",
            dependencies: [
                "CamNIO", "CamProtocol", "ServerMetrics", "MediaCore", "RecordingCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                // Digest answers to cameras' 401 (MD5).
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "ServerStubs/StreampointCore", swiftSettings: stubSettings),
        .executableTarget(
            name: "camagent-streampoint",
            dependencies: [
                "CamNIO", "CamProtocol", "StreampointCore", "ServerMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "ServerStubs/Streampoint", swiftSettings: stubSettings),
        .executableTarget(
            name: "camagent-simcam",
            dependencies: [
                "CamMedia",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // --rtsp-user: checking Digest answers (MD5).
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "ServerStubs/SimCam", resources: [.copy("Media")], swiftSettings: stubSettings),

        // Thousands of simulated agents in one process: the agent's own CamCore
        // state machine per agent, driven by NIO instead of the poll loop.
        .executableTarget(
            name: "camagent-fleet",
            dependencies: [
                "CamCore", "CamNIO", "CamProtocol", "EndpointCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "ServerStubs/Fleet", swiftSettings: stubSettings),
        // Host-only firmware packaging tool (Scripts/firmware); never linked into the agent.
        .systemLibrary(name: "CZlib", path: "Firmware/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .executableTarget(
            name: "camagent-firmware",
            dependencies: ["CZlib", "CamCore", "CamProtocol", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Firmware/Tool", swiftSettings: stubSettings),

        .testTarget(name: "CamProtocolTests", dependencies: ["CamProtocol", "CamNIO", .product(name: "NIOEmbedded", package: "swift-nio")], path: "Tests/CamProtocolTests"),
        .testTarget(
            name: "CamMediaTests", dependencies: ["CamMedia", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/CamMediaTests"),
        .testTarget(name: "MediaCoreTests", dependencies: ["MediaCore"], path: "Tests/MediaCoreTests", swiftSettings: stubSettings),
        .testTarget(name: "RecordingCoreTests", dependencies: ["RecordingCore", "MediaCore", "CamMedia"], path: "Tests/RecordingCoreTests", swiftSettings: stubSettings),
        .testTarget(name: "CamCoreTests", dependencies: ["CamCore"], path: "Tests/CamCoreTests", resources: [.copy("Fixtures")]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "CamProtocol", "EndpointCore", "ServerMetrics",
                // ViewerTokenTests: the streampoint's channel client and token check, in process.
                "CamNIO", "StreampointCore",
                // FakeChannelEndpoint: the endpoint's side of the streampoint channel, in process.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/EndToEndTests", swiftSettings: stubSettings),
        .testTarget(
            name: "EndpointTests",
            dependencies: [
                "camagent-endpoint", "EndpointCore", "CamProtocol", "CamNIO", "ServerMetrics",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/EndpointTests", swiftSettings: stubSettings),
        .testTarget(
            name: "StreampointTests",
            dependencies: [
                "StreampointCore", "CamProtocol", "CamNIO", "MediaCore",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/StreampointTests", swiftSettings: stubSettings),
        .testTarget(name: "FirmwareTests", dependencies: ["camagent-firmware"], path: "Tests/FirmwareTests", exclude: ["boot"], swiftSettings: stubSettings),
        .testTarget(name: "SimCamTests", dependencies: ["camagent-simcam"], path: "Tests/SimCamTests", swiftSettings: stubSettings),
    ]
)
