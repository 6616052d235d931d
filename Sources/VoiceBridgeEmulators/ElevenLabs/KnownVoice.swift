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
        KnownSpeech.audio(for: text, msPerCharacter: msPerCharacter)
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
        for chunk in KnownSpeech.chunks(for: text, turnID: id, msPerCharacter: voice.msPerCharacter) {
            continuation.yield(chunk)
        }
        continuation.finish()
    }

    func cancel() {
        continuation.finish()
    }
}

