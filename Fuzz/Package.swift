// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for every parser that reads bytes from the network or from users. Kept out of
// the root package, like Benchmarks/, so the main build and CI stay lean. Build and run with
// `scripts/fuzz` (it passes `-sanitize=fuzzer,address` for every module, so VoiceBridge's own code
// is instrumented too, not just this target).
let package = Package(
    name: "VoiceBridgeFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "VoiceBridge", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // The declaration of libFuzzer's driver entry point, for the executable's `main`.
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "VoiceBridgeFuzz",
            dependencies: [
                "CLibFuzzer",
                .product(name: "VoiceBridgeAudio", package: "VoiceBridge"),
                .product(name: "VoiceBridgeCarriers", package: "VoiceBridge"),
                .product(name: "VoiceBridgeSpeech", package: "VoiceBridge"),
                .product(name: "VoiceBridgeRelay", package: "VoiceBridge"),
                .product(name: "VoiceBridgeFlows", package: "VoiceBridge"),
                .product(name: "VoiceBridgePrompts", package: "VoiceBridge"),
                .product(name: "VoiceBridgeRecording", package: "VoiceBridge"),
                .product(name: "VoiceBridgeCalls", package: "VoiceBridge"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        ),
    ]
)
