import Synchronization
import VoiceBridgeSpeech

/// A voice with known output that records what it was asked to say: each character is
/// `msPerCharacter` of μ-law (bytes derived from the character's index), in 100 ms chunks, timed
/// character by character. With it the emulator's audio is predictable byte for byte, so tests
/// (and anyone checking a client for exact passthrough) can compare what arrived with what the
/// voice made; espeak's output varies slightly from run to run.
public final class KnownVoice: SpeechSource {
    public let name: String
    public let msPerCharacter: Int
    private let spoken = Mutex<[String]>([])

    public init(name: String = "known", msPerCharacter: Int = 60) {
        self.name = name
        self.msPerCharacter = msPerCharacter
    }

    /// Every text spoken (at its turn's end), in order.
    public var texts: [String] { spoken.withLock { $0 } }

    public func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        KnownTurn(id: options.id, voice: self)
    }

    fileprivate func record(_ text: String) {
        spoken.withLock { $0.append(text) }
    }

    /// The audio the voice produces for `text`.
    public func audio(for text: String) -> [UInt8] {
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

