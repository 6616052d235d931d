import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
import VoiceBridgeEmulators
import VoiceBridgeSpeech

/// An in-process emulator on loopback for one test.
func withElevenLabsEmulator<T>(
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

/// The WebSocket settings for an emulator on `port`.
func webSocketConfiguration(port: Int, scheme: String = "http", _ adjust: (inout ElevenLabsWebSocketConfiguration) -> Void = { _ in })
    -> ElevenLabsWebSocketConfiguration
{
    var configuration = ElevenLabsWebSocketConfiguration(
        apiKey: ElevenLabsEmulatorConfiguration.defaultAPIKey, baseURL: "\(scheme)://127.0.0.1:\(port)", voiceID: "voice1"
    )
    configuration.connectTimeout = .seconds(10)
    adjust(&configuration)
    return configuration
}

func webSocketSource(
    port: Int, metrics: MetricsLog? = nil, _ adjust: (inout ElevenLabsWebSocketConfiguration) -> Void = { _ in }
) throws -> ElevenLabsWebSocketSpeechSource {
    let client = try ElevenLabsWebSocketClient(configuration: webSocketConfiguration(port: port, adjust), logger: quietLogger("ws"))
    return ElevenLabsWebSocketSpeechSource(client: client, logger: quietLogger("ws")) { metrics?.append($0) }
}

final class MetricsLog: Sendable {
    private let entries = Mutex<[ElevenLabsTurnMetrics]>([])
    func append(_ m: ElevenLabsTurnMetrics) { entries.withLock { $0.append(m) } }
    var all: [ElevenLabsTurnMetrics] { entries.withLock { $0 } }
}

/// Every chunk of a turn, until it ends (throws its error).
func allChunks(_ turn: any SpeechTurn) async throws -> [SpeechChunk] {
    var out: [SpeechChunk] = []
    for try await chunk in turn.chunks { out.append(chunk) }
    return out
}

/// The characters a list of chunks' alignments cover, in order.
func alignedText(_ chunks: [SpeechChunk]) -> String {
    chunks.compactMap(\.alignment).flatMap(\.chars).joined()
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(_ what: String, timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting for \(what)")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// The text messages of the emulator's `n`th socket (1-based), in order.
func socketMessages(_ emulator: ElevenLabsEmulator, _ n: Int = 1) -> [String] {
    let sockets = emulator.requests.filter { $0.kind == .webSocket }
    return sockets.count >= n ? sockets[n - 1].messages : []
}

/// The `text` of each text-carrying message on a socket (keep-alives and inits left out).
func sentTexts(_ messages: [String]) -> [String] {
    messages.compactMap { message in
        guard let object = try? JSONSerialization.jsonObject(with: Data(message.utf8)) as? [String: Any],
            let text = object["text"] as? String, !text.trimmingCharacters(in: .whitespaces).isEmpty
        else { return nil }
        return text
    }
}
