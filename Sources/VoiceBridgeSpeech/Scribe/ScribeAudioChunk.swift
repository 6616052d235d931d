import NIOCore
import VoiceBridgeCarriers

/// Writes `input_audio_chunk`, the one message a client sends (elevenlabs-stt.md §2.1), straight
/// into a buffer: base64 from the caller's bytes with no `Data` or `String` in between.
public enum ScribeAudioChunk {
    /// `previous_text` may only ride on a session's first chunk, and should stay short (§2.1).
    public static let maxPreviousTextCharacters = 50

    public static func write(
        audio: UnsafeRawBufferPointer, commit: Bool, sampleRate: Int, previousText: String? = nil, into buffer: inout ByteBuffer
    ) {
        buffer.writeStaticString(#"{"message_type":"input_audio_chunk","audio_base_64":""#)
        Base64Fast.encode(audio, into: &buffer)
        buffer.writeStaticString(commit ? #"","commit":true,"sample_rate":"# : #"","commit":false,"sample_rate":"#)
        JSONWriting.writeDecimal(sampleRate, into: &buffer)
        if let previousText, !previousText.isEmpty {
            buffer.writeStaticString(#","previous_text":"#)
            JSONWriting.writeQuoted(String(previousText.suffix(maxPreviousTextCharacters)), into: &buffer)
        }
        buffer.writeStaticString("}")
    }

    /// The message's size for `audioBytes` of audio, to size a buffer once.
    public static func capacity(audioBytes: Int) -> Int { Base64Fast.encodedLength(audioBytes) + 160 }
}
