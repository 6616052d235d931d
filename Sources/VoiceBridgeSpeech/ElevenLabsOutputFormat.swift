/// An ElevenLabs `output_format` query value: codec, sample rate, then bitrate.
///
/// It is a query parameter, never a body field. Open-ended on purpose (the list grows); the
/// constants are the ones VoiceBridge uses.
public struct ElevenLabsOutputFormat: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// Raw headerless G.711 μ-law at 8 kHz, one byte per sample: what the carrier plays, passed
    /// through untouched.
    public static let ulaw8000 = ElevenLabsOutputFormat(rawValue: "ulaw_8000")
    public static let alaw8000 = ElevenLabsOutputFormat(rawValue: "alaw_8000")
    /// Signed 16-bit little-endian mono PCM.
    public static let pcm16000 = ElevenLabsOutputFormat(rawValue: "pcm_16000")
    public static let pcm8000 = ElevenLabsOutputFormat(rawValue: "pcm_8000")
    /// The service's own default when no format is asked for.
    public static let mp3_44100_128 = ElevenLabsOutputFormat(rawValue: "mp3_44100_128")

    public var description: String { rawValue }
}
