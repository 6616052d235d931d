/// A voice whose output is known byte for byte on every machine: each character of the text
/// lasts `msPerCharacter` of μ-law, its bytes all `0x20 + (index % 64)`, delivered in 100 ms
/// chunks (800 bytes) timed character by character. The ElevenLabs emulator speaks with it in
/// tests (`KnownVoice`), and replays speak with it where a recording has no audio
/// (`StandInVoice`); espeak's output varies slightly from run to run.
public enum KnownSpeech {
    public static let chunkBytes = 800

    public static func audio(for text: String, msPerCharacter: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count * msPerCharacter * 8)
        for index in 0..<text.count {
            out.append(contentsOf: repeatElement(UInt8(truncatingIfNeeded: 0x20 + index % 64), count: msPerCharacter * 8))
        }
        return out
    }

    /// The chunks for `text`, with alignment relative to each chunk's start.
    public static func chunks(for text: String, turnID: String, msPerCharacter: Int) -> [SpeechChunk] {
        let audio = audio(for: text, msPerCharacter: msPerCharacter)
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
