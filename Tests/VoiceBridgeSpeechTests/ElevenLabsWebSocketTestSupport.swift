import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
import VoiceBridgeEmulators
import VoiceBridgeSpeech

/// A voice with known output that records what it was asked to say: each character is
/// `msPerCharacter` of μ-law (bytes derived from the character's index), in 100 ms chunks, timed
/// character by character. The emulator speaks with it, and fallback tests use it as the
/// offline voice.
final class KnownVoice: SpeechSource {
    let name: String
    let msPerCharacter: Int
    private let spoken = Mutex<[String]>([])

    init(name: String = "known", msPerCharacter: Int = 60) {
        self.name = name
        self.msPerCharacter = msPerCharacter
    }

    /// Every text spoken (at its turn's end), in order.
    var texts: [String] { spoken.withLock { $0 } }

    func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        KnownTurn(id: options.id, voice: self)
    }

    fileprivate func record(_ text: String) {
        spoken.withLock { $0.append(text) }
    }

    /// The audio the voice produces for `text`.
    func audio(for text: String) -> [UInt8] {
        text.enumerated().flatMap { index, _ in
            [UInt8](repeating: UInt8(truncatingIfNeeded: 0x20 + index % 64), count: msPerCharacter * 8)
        }
    }
}

private final class KnownTurn: SpeechTurn {
    let id: String
    let voice: KnownVoice
    let chunks: AsyncThrowingStream<SpeechChunk, any Error>
    private let continuation: AsyncThrowingStream<SpeechChunk, any Error>.Continuation
    private let text = Mutex("")

    init(id: String, voice: KnownVoice) {
        self.id = id
        self.voice = voice
        (chunks, continuation) = AsyncThrowingStream.makeStream()
    }

    func send(text more: String) {
        text.withLock { $0 += more }
    }

    func finish() {
        let text = text.withLock { $0 }
        voice.record(text)
        let audio = voice.audio(for: text)
        let characters = Array(text)
        let perChar = voice.msPerCharacter
        let chunkBytes = 800
        var offset = 0
        var next = 0
        while offset < audio.count {
            let end = min(offset + chunkBytes, audio.count)
            var chars: [String] = []
            var starts: [Int] = []
            var durations: [Int] = []
            while next < characters.count, next * perChar * 8 < end {
                chars.append(String(characters[next]))
                starts.append(next * perChar - offset / 8)
                durations.append(perChar)
                next += 1
            }
            continuation.yield(SpeechChunk(
                turnID: id, audio: Array(audio[offset..<end]),
                alignment: Alignment(chars: chars, charStartTimesMs: starts, charDurationsMs: durations)
            ))
            offset = end
        }
        continuation.finish()
    }

    func cancel() {
        continuation.finish()
    }
}

/// An in-process emulator on loopback for one test.
func withElevenLabsEmulator<T>(
    _ configuration: ElevenLabsEmulatorConfiguration = ElevenLabsEmulatorConfiguration(),
    voice: KnownVoice = KnownVoice(),
    _ body: (ElevenLabsEmulator, Int) async throws -> T
) async throws -> T {
    let emulator = ElevenLabsEmulator(configuration: configuration, speech: voice, logger: quietLogger("emulator"))
    let port = try await emulator.start()
    do {
        let result = try await body(emulator, port)
        try await emulator.stop()
        return result
    } catch {
        try? await emulator.stop()
        throw error
    }
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
