import VoiceBridgeSpeech

/// The voice a replay speaks with when the file has no recorded audio for a request (the
/// hand-written form): deterministic, byte for byte, on every machine.
///
/// It is the emulator's `KnownVoice` scheme: each character of the text lasts 60 ms, its bytes
/// all `0x20 + (index % 64)` (μ-law); the audio comes in chunks of 100 ms (800 bytes) with
/// character timings, all of them the moment the request is made.
public enum StandInVoice {
    public static let msPerCharacter = 60
    public static let chunkBytes = 800

    public static func audio(for text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count * msPerCharacter * 8)
        for index in 0..<text.count {
            out.append(contentsOf: repeatElement(UInt8(truncatingIfNeeded: 0x20 + index % 64), count: msPerCharacter * 8))
        }
        return out
    }

    /// The chunks for `text`, with alignment relative to each chunk's start.
    public static func chunks(for text: String, turnID: String) -> [SpeechChunk] {
        let audio = audio(for: text)
        let characters = Array(text)
        var chunks: [SpeechChunk] = []
        var offset = 0
        var next = 0
        while offset < audio.count {
            let end = min(offset + chunkBytes, audio.count)
            var chars: [String] = []
            var starts: [Int] = []
            var durations: [Int] = []
            while next < characters.count, next * msPerCharacter * 8 < end {
                chars.append(String(characters[next]))
                starts.append(next * msPerCharacter - offset / 8)
                durations.append(msPerCharacter)
                next += 1
            }
            chunks.append(SpeechChunk(
                turnID: turnID, audio: Array(audio[offset..<end]),
                alignment: Alignment(chars: chars, charStartTimesMs: starts, charDurationsMs: durations)))
            offset = end
        }
        return chunks
    }
}
