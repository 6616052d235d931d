// swift-tools-version: 6.1
import PackageDescription

// Kept out of the root package so the main build and CI stay lean; run with
// `swift run -c release AudioBench` from this directory.
let package = Package(
    name: "Benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "VoiceBridge", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "AudioBench",
            dependencies: [.product(name: "VoiceBridgeAudio", package: "VoiceBridge")],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        ),
    ]
)
