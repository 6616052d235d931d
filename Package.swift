// swift-tools-version: 6.1
import PackageDescription

// Each module has one job; a module never imports one above it in this list.
// See README.md ("Layout") for the pipeline these modules form.

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    // The dynamic exclusivity checks cost about 3.5 % of a loaded server's CPU (one call per
    // inout access on the media path); debug builds, and so `swift test`, keep them.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "VoiceBridge",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "voicebridge", targets: ["voicebridge"]),
        .library(name: "VoiceBridgeAudio", targets: ["VoiceBridgeAudio"]),
        .library(name: "VoiceBridgeCarriers", targets: ["VoiceBridgeCarriers"]),
        .library(name: "VoiceBridgeSpeech", targets: ["VoiceBridgeSpeech"]),
        .library(name: "VoiceBridgeCalls", targets: ["VoiceBridgeCalls"]),
        .library(name: "VoiceBridgePrompts", targets: ["VoiceBridgePrompts"]),
        .library(name: "VoiceBridgeFlows", targets: ["VoiceBridgeFlows"]),
        .library(name: "VoiceBridgeRelay", targets: ["VoiceBridgeRelay"]),
        .library(name: "VoiceBridgeRecording", targets: ["VoiceBridgeRecording"]),
        .library(name: "VoiceBridgeServer", targets: ["VoiceBridgeServer"]),
        .library(name: "VoiceBridgeEmulators", targets: ["VoiceBridgeEmulators"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        // System libraries (Debian packages). pkg-config supplies the flags where present;
        // the module maps' `link` lines are enough without it.
        .systemLibrary(name: "CSpanDSP", pkgConfig: "spandsp", providers: [.apt(["libspandsp-dev", "libtiff-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSpeexDSP", pkgConfig: "speexdsp", providers: [.apt(["libspeexdsp-dev"])]),
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev", "espeak-ng-data"])]),

        // Pure DSP over sample buffers: no I/O, no sockets, no clocks.
        .target(
            name: "VoiceBridgeAudio",
            dependencies: ["CSpanDSP", "CSpeexDSP"],
            swiftSettings: upcoming
        ),
        // Wire codecs and carrier crypto (signatures, stream tokens): bytes in, typed events out.
        .target(
            name: "VoiceBridgeCarriers",
            dependencies: [
                "VoiceBridgeAudio", "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        // Where speech comes from: the SpeechSource protocol and its implementations.
        .target(
            name: "VoiceBridgeSpeech",
            dependencies: [
                "VoiceBridgeAudio", "VoiceBridgeCarriers", "CEspeakNG", "CCurl",
                .product(name: "NIOCore", package: "swift-nio"),
                // The ElevenLabs WebSocket client: a raw NIO client over NIOSSL.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // The call: state machine, playout clock, mark ledger, barge-in policy, flows.
        .target(
            name: "VoiceBridgeCalls",
            dependencies: [
                "VoiceBridgeAudio", "VoiceBridgeCarriers", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // Prompt files for IVRs: the catalogue (config/prompts.yaml), the content-addressed cache,
        // the builder (ElevenLabs HTTP or the offline voice) and the manifest.
        .target(
            name: "VoiceBridgePrompts",
            dependencies: [
                "VoiceBridgeAudio", "VoiceBridgeCarriers", "VoiceBridgeSpeech",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        // Declarative call flows (config/flows/*.yaml): parser with line numbers, checker, and the
        // interpreter that drives a call through `CallControl`.
        .target(
            name: "VoiceBridgeFlows",
            dependencies: [
                "VoiceBridgeCalls", "VoiceBridgeAudio", "VoiceBridgeCarriers", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        // The ConversationRelay app protocol: the bridge as the relay server, connected to an app.
        .target(
            name: "VoiceBridgeRelay",
            dependencies: [
                "VoiceBridgeCalls", "VoiceBridgeAudio", "VoiceBridgeCarriers", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // Call recordings (JSON Lines + WAVs) and their replay on a virtual clock.
        .target(
            name: "VoiceBridgeRecording",
            dependencies: [
                "VoiceBridgeCalls", "VoiceBridgeAudio", "VoiceBridgeCarriers", "VoiceBridgeSpeech", "VoiceBridgeRelay",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // HTTP + WebSocket surface, signature checks, metrics, lifecycle.
        .target(
            name: "VoiceBridgeServer",
            dependencies: [
                "VoiceBridgeCalls", "VoiceBridgeCarriers", "VoiceBridgeSpeech", "VoiceBridgeAudio",
                "VoiceBridgePrompts", "VoiceBridgeFlows", "VoiceBridgeRelay", "VoiceBridgeRecording",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        // The other ends of the wire: the phone simulator (carrier side) and upstream emulators.
        .target(
            name: "VoiceBridgeEmulators",
            dependencies: [
                "VoiceBridgeAudio", "VoiceBridgeCarriers", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "voicebridge",
            dependencies: [
                "VoiceBridgeAudio", "VoiceBridgeCarriers", "VoiceBridgeSpeech", "VoiceBridgeCalls",
                "VoiceBridgeServer", "VoiceBridgeEmulators",
                "VoiceBridgePrompts", "VoiceBridgeFlows", "VoiceBridgeRelay", "VoiceBridgeRecording",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),

        // Test doubles for the call's transport boundaries, shared by the test targets below.
        .target(
            name: "VoiceBridgeCallTesting",
            dependencies: [
                "VoiceBridgeCalls", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Tests/Support/VoiceBridgeCallTesting",
            swiftSettings: upcoming
        ),
        // Counts heap allocations on armed threads: a malloc interposer linked into the test executable.
        .target(name: "CAllocationCounter", path: "Tests/Support/CAllocationCounter"),
        .testTarget(name: "VoiceBridgeAudioTests", dependencies: ["VoiceBridgeAudio"], swiftSettings: upcoming),
        .testTarget(
            name: "VoiceBridgeCarriersTests",
            dependencies: ["VoiceBridgeCarriers", "VoiceBridgeAudio", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VoiceBridgeSpeechTests",
            dependencies: [
                "VoiceBridgeSpeech", "VoiceBridgeAudio",
                // The ElevenLabs emulator, in-process, for the WebSocket client and fallback tests.
                "VoiceBridgeEmulators", "VoiceBridgeCalls", "VoiceBridgeCarriers",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                // A loopback HTTP/1.1 server that answers like ElevenLabs, for the libcurl client.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VoiceBridgeCallsTests",
            dependencies: [
                "VoiceBridgeCalls", "VoiceBridgeCallTesting", "VoiceBridgeCarriers", "VoiceBridgeAudio", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VoiceBridgeServerTests",
            dependencies: [
                "VoiceBridgeServer", "VoiceBridgeEmulators", "VoiceBridgeCalls", "VoiceBridgeCarriers",
                "VoiceBridgeAudio", "VoiceBridgeSpeech",
                "VoiceBridgePrompts", "VoiceBridgeFlows", "VoiceBridgeRelay", "VoiceBridgeRecording",
                "CAllocationCounter", "VoiceBridgeCallTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VoiceBridgeEmulatorsTests",
            dependencies: [
                "VoiceBridgeEmulators", "VoiceBridgeCarriers", "VoiceBridgeAudio", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VoiceBridgePromptsTests",
            dependencies: [
                "VoiceBridgePrompts",
                "VoiceBridgeEmulators", "VoiceBridgeCalls", "VoiceBridgeCarriers", "VoiceBridgeAudio", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VoiceBridgeFlowsTests",
            dependencies: [
                "VoiceBridgeFlows", "VoiceBridgeCallTesting",
                "VoiceBridgeEmulators", "VoiceBridgeCalls", "VoiceBridgeCarriers", "VoiceBridgeAudio", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VoiceBridgeRelayTests",
            dependencies: [
                "VoiceBridgeRelay", "VoiceBridgeCallTesting",
                "VoiceBridgeEmulators", "VoiceBridgeCalls", "VoiceBridgeCarriers", "VoiceBridgeAudio", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VoiceBridgeRecordingTests",
            dependencies: [
                "VoiceBridgeRecording", "VoiceBridgeServer",
                "VoiceBridgeEmulators", "VoiceBridgeCalls", "VoiceBridgeCarriers", "VoiceBridgeAudio", "VoiceBridgeSpeech",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VoiceBridgeCLITests",
            dependencies: ["voicebridge"],
            swiftSettings: upcoming
        ),
    ]
)
