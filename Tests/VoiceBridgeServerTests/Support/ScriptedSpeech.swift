import NIOConcurrencyHelpers
import VoiceBridgeAudio
import VoiceBridgeSpeech

/// A speech source that "speaks" 60 ms of a tone per character, in 200 ms chunks, at once on
/// `finish()`. Full-call tests use it so they exercise the real Call and flow without sharing
/// the process-wide espeak engine with the speech module's timing tests.
struct ScriptedSpeech: SpeechSource {
    let name = "scripted"
    static let msPerCharacter = 60
    static let tone = ToneGenerator.ulaw(ToneGenerator.pcm(.beep, durationMs: 200))

    func startTurn(_ options: TurnOptions) -> any SpeechTurn { Turn(id: options.id) }

    func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        let turn = Turn(id: options.id)
        turn.send(text: text)
        turn.finish()
        return turn
    }

    final class Turn: SpeechTurn {
        let id: String
        let chunks: AsyncThrowingStream<SpeechChunk, any Error>
        private let continuation: AsyncThrowingStream<SpeechChunk, any Error>.Continuation
        private let text = NIOLockedValueBox("")

        init(id: String) {
            self.id = id
            (chunks, continuation) = AsyncThrowingStream.makeStream()
        }

        func send(text: String) { self.text.withLockedValue { $0 += text } }

        func finish() {
            var remaining = text.withLockedValue { $0.count } * ScriptedSpeech.msPerCharacter * 8
            while remaining > 0 {
                let count = min(remaining, ScriptedSpeech.tone.count)
                continuation.yield(SpeechChunk(turnID: id, audio: Array(ScriptedSpeech.tone.prefix(count))))
                remaining -= count
            }
            continuation.finish()
        }

        func cancel() { continuation.finish() }
    }
}
