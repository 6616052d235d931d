import VoiceBridgeSpeech

/// The voice a replay speaks with when the file has no recorded audio for a request (the
/// hand-written form): deterministic, byte for byte, on every machine.
///
/// It is `KnownSpeech` (the emulator's `KnownVoice`) at 60 ms per character, its chunks all
/// delivered the moment the request is made.
public enum StandInVoice {
    public static let msPerCharacter = 60
    public static let chunkBytes = KnownSpeech.chunkBytes

    public static func audio(for text: String) -> [UInt8] {
        KnownSpeech.audio(for: text, msPerCharacter: msPerCharacter)
    }

    /// The chunks for `text`, with alignment relative to each chunk's start.
    public static func chunks(for text: String, turnID: String) -> [SpeechChunk] {
        KnownSpeech.chunks(for: text, turnID: turnID, msPerCharacter: msPerCharacter)
    }
}
