import CEspeakNG
import VoiceBridgeAudio

/// One sentence on its way from espeak to the turn: espeak's PCM blocks are resampled to 8 kHz,
/// collected into chunks, μ-law encoded and handed to the turn with their alignment.
///
/// Lives on the engine thread, for the span of one `espeak_ng_Synthesize` call.
final class SentenceSynthesis {
    private let turn: OfflineTurn
    private let resampler: Resampler
    private let inputRate: Int
    private var aligner: WordAligner
    /// 8 kHz audio not yet handed out.
    private var pending: [Int16] = []
    /// 8 kHz samples handed out so far for this sentence: where the next chunk starts.
    private var emittedSamples = 0
    /// espeak samples received: the sentence's length, for its end time.
    private var inputSamples = 0
    private let firstChunkSamples: Int
    private let chunkSamples: Int

    init(text: String, turn: OfflineTurn, resampler: Resampler, inputRate: Int, estimatedMsPerCharacter: Int) {
        self.turn = turn
        self.resampler = resampler
        self.inputRate = inputRate
        aligner = WordAligner(text: text, estimatedMsPerCharacter: estimatedMsPerCharacter)
        firstChunkSamples = max(1, turn.settings.firstChunkMs * 8)
        chunkSamples = max(1, turn.settings.chunkMs * 8)
        pending.reserveCapacity(chunkSamples + 1024)
    }

    /// One espeak block. Returns false to make espeak abort (the turn was cancelled).
    func receive(samples: UnsafeMutablePointer<Int16>?, count: Int, events: UnsafeMutablePointer<espeak_EVENT>) -> Bool {
        guard !turn.isStopped else { return false }
        var event = events
        while event.pointee.type != espeakEVENT_LIST_TERMINATED {
            if event.pointee.type == espeakEVENT_WORD {
                aligner.word(
                    textPosition: Int(event.pointee.text_position),
                    length: Int(event.pointee.length),
                    audioMs: Int(event.pointee.audio_position)
                )
            }
            event += 1
        }
        if let samples, count > 0 {
            inputSamples += count
            resampler.process(UnsafeBufferPointer(start: samples, count: count), into: &pending)
            if pending.count >= (emittedSamples == 0 ? firstChunkSamples : chunkSamples) {
                emit(isLast: false)
            }
        }
        return true
    }

    /// espeak finished the sentence: push the resampler's tail out and hand over the rest.
    func complete() {
        guard !turn.isStopped else { return }
        let tail = [Int16](repeating: 0, count: resampler.inputLatency)
        tail.withUnsafeBufferPointer { resampler.process($0, into: &pending) }
        aligner.end(audioMs: inputSamples * 1000 / inputRate)
        if !pending.isEmpty || aligner.hasPendingCharacters {
            emit(isLast: true)
        }
    }

    private func emit(isLast: Bool) {
        let startMs = emittedSamples / 8
        emittedSamples += pending.count
        let alignment = aligner.alignment(chunkStartMs: startMs, chunkEndMs: emittedSamples / 8, isLast: isLast)
        let audio = G711.encode(pending, law: .ulaw)
        pending.removeAll(keepingCapacity: true)
        turn.deliver(SpeechChunk(turnID: turn.id, audio: audio, alignment: alignment))
    }
}
