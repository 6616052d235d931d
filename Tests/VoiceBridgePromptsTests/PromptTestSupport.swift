import Foundation
import Logging
import Synchronization
import VoiceBridgeAudio
import VoiceBridgeEmulators
import VoiceBridgePrompts
import VoiceBridgeSpeech

/// An in-process ElevenLabs emulator on loopback with the known voice (60 ms of μ-law per
/// character, byte-predictable), for one test.
func withEmulator<T>(
    _ configuration: ElevenLabsEmulatorConfiguration = ElevenLabsEmulatorConfiguration(),
    voice: KnownVoice = KnownVoice(),
    _ body: (ElevenLabsEmulator, Int) async throws -> T
) async throws -> T {
    let emulator = ElevenLabsEmulator(configuration: configuration, speech: voice, logger: quietLogger("emulator"))
    return try await emulator.whileRunning(body)
}

func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: "test.\(label)")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
    return logger
}

/// Backoffs of a millisecond or two: retries are exercised without waiting real seconds.
let fastRetry = ElevenLabsRetryPolicy(maxRetries: 3, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(2), maxSlotWait: .seconds(5))

/// ElevenLabs over HTTP to the emulator on `port`.
func elevenLabs(port: Int, apiKey: String = ElevenLabsEmulatorConfiguration.defaultAPIKey, retry: ElevenLabsRetryPolicy = fastRetry) -> ElevenLabsPromptSynthesizer {
    let configuration = ElevenLabsHTTPClient.Configuration(apiKey: apiKey, baseURL: "http://127.0.0.1:\(port)", retry: retry)
    return ElevenLabsPromptSynthesizer(client: ElevenLabsHTTPClient(configuration: configuration, logger: quietLogger("client"))) { _ in }
}

/// A fresh directory under the system's temporary directory, removed after `body`.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("prompts-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// The repository's config/prompts.yaml.
func shippedCatalog() throws -> PromptCatalog {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return try PromptCatalog.load(path: root.appendingPathComponent("config/prompts.yaml").path)
}

func catalog(_ texts: [(String, String)], format: PromptFormat = .ulawWAV) -> PromptCatalog {
    PromptCatalog(prompts: texts.map { PromptDefinition(id: $0.0, text: $0.1, format: format) })
}

func readBytes(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}

func readManifest(_ directory: String) throws -> PromptManifest {
    try PromptManifest.decode(readBytes(directory + "/manifest.json") ?? [])
}

/// The requests that asked for speech (not other routes).
func speechRequests(_ emulator: ElevenLabsEmulator) -> [ElevenLabsEmulatorRequestRecord] {
    emulator.requests.filter { $0.kind == .http && $0.path.hasPrefix("/v1/text-to-speech/") }
}

/// The text of a recorded request body.
func requestedText(_ record: ElevenLabsEmulatorRequestRecord) -> String? {
    guard let body = record.body, let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else { return nil }
    return json["text"] as? String
}

/// Collects progress events from the builder's task.
final class EventLog: Sendable {
    private let events = MutexBox<[PromptBuildEvent]>([])
    func record(_ event: PromptBuildEvent) { events.mutate { $0.append(event) } }
    var all: [PromptBuildEvent] { events.value }
}

final class MutexBox<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func mutate(_ change: (inout Value) -> Void) { mutex.withLock { change(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}
