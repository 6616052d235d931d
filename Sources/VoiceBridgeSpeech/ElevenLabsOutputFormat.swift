import VoiceBridgeCarriers

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

    /// What the bytes of this format are, for the raw telephony formats; nil for containers and
    /// codecs the bridge does not play (mp3, opus).
    public var mediaFormat: MediaFormat? {
        switch rawValue {
        case "ulaw_8000": .mulaw8kMono
        case "alaw_8000": .alaw8kMono
        default:
            if rawValue.hasPrefix("pcm_"), let rate = Int(rawValue.dropFirst(4)) { .l16LittleEndian(rate) } else { nil }
        }
    }

    /// What to ask for so that a call in `format` passes the audio through: the same codec and
    /// rate (L16 comes little-endian and is only byte-swapped for a big-endian carrier). μ-law for
    /// a format the service does not offer, which the call then converts.
    public init(for format: MediaFormat) {
        switch (format.encoding, format.sampleRate) {
        case (.mulaw, 8000): self = .ulaw8000
        case (.alaw, 8000): self = .alaw8000
        case (.l16, 8000): self = .pcm8000
        case (.l16, 16000): self = .pcm16000
        default: self = .ulaw8000
        }
    }
}
