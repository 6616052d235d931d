import NIOCore
import Synchronization
import Testing
import VoiceBridgeEmulators
import VoiceBridgeSpeech

/// A started emulator, stopped by `withEmulator` at the end of the test.
func withEmulator<T>(
    _ configuration: ElevenLabsEmulatorConfiguration = ElevenLabsEmulatorConfiguration(),
    speech: any SpeechSource = KnownVoice(),
    _ body: (ElevenLabsEmulator, Int) async throws -> T
) async throws -> T {
    let emulator = ElevenLabsEmulator(configuration: configuration, speech: speech)
    return try await emulator.whileRunning(body)
}

enum Paths {
    static func streamInput(_ query: String = "output_format=ulaw_8000") -> String {
        "/v1/text-to-speech/voice1/stream-input?\(query)"
    }

    static func multi(_ query: String = "output_format=ulaw_8000") -> String {
        "/v1/text-to-speech/voice1/multi-stream-input?\(query)"
    }

    static func stream(_ query: String = "output_format=ulaw_8000") -> String {
        "/v1/text-to-speech/voice1/stream?\(query)"
    }

    static func withTimestamps(_ query: String = "output_format=ulaw_8000") -> String {
        "/v1/text-to-speech/voice1/stream/with-timestamps?\(query)"
    }
}

let validKey = [("xi-api-key", ElevenLabsEmulatorConfiguration.defaultAPIKey)]

/// Audio messages of a list of server texts, decoded.
func audioMessages(_ texts: [String]) throws -> [TestServerMessage] {
    try texts.map(TestServerMessage.init).filter { $0.audio != nil }
}

/// Checks that an alignment's spans tile and end with the message's audio.
func expectTiles(_ alignment: TestServerMessage.Alignment, audioMs: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(alignment.chars.count == alignment.charStartTimesMs.count, sourceLocation: sourceLocation)
    #expect(alignment.chars.count == alignment.charDurationsMs.count, sourceLocation: sourceLocation)
    guard let first = alignment.charStartTimesMs.first else { return }
    #expect(first >= 0, sourceLocation: sourceLocation)
    for i in alignment.chars.indices.dropFirst() {
        #expect(alignment.charStartTimesMs[i] == alignment.charStartTimesMs[i - 1] + alignment.charDurationsMs[i - 1], sourceLocation: sourceLocation)
    }
    let last = alignment.chars.count - 1
    #expect(alignment.charStartTimesMs[last] + alignment.charDurationsMs[last] == audioMs, sourceLocation: sourceLocation)
}

/// Audio bytes compared in full but printed as a summary, so a failure doesn't print megabytes.
struct Bytes: Equatable, CustomStringConvertible {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var description: String {
        var hash: UInt32 = 2_166_136_261
        for byte in bytes { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return "\(bytes.count) bytes, fnv1a \(String(hash, radix: 16))"
    }
}

/// Wraps a voice and keeps every byte it produced, so a test can check that the emulator passes
/// the voice's audio through untouched. (espeak-ng's output differs slightly from run to run, so
/// comparing with a second synthesis of the same text would not work.)
final class RecordingVoice: SpeechSource {
    let base: any SpeechSource
    private let produced = Mutex<[UInt8]>([])

    init(_ base: any SpeechSource) {
        self.base = base
    }

    var name: String { base.name }
    var audio: [UInt8] { produced.withLock { $0 } }

    func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        RecordingTurn(base.startTurn(options), voice: self)
    }

    func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        RecordingTurn(base.speak(text, options: options), voice: self)
    }

    fileprivate func record(_ bytes: [UInt8]) {
        produced.withLock { $0 += bytes }
    }
}

private final class RecordingTurn: SpeechTurn {
    let base: any SpeechTurn
    let chunks: AsyncThrowingStream<SpeechChunk, any Error>

    init(_ base: any SpeechTurn, voice: RecordingVoice) {
        self.base = base
        let (stream, continuation) = AsyncThrowingStream<SpeechChunk, any Error>.makeStream()
        chunks = stream
        Task {
            do {
                for try await chunk in base.chunks {
                    voice.record(chunk.audio)
                    continuation.yield(chunk)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }

    var id: String { base.id }
    func send(text: String) { base.send(text: text) }
    func finish() { base.finish() }
    func cancel() { base.cancel() }
}
