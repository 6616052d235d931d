import VoiceBridgeCarriers

/// The `output_format` values the emulator can produce from its 8 kHz μ-law voice.
///
/// μ-law is passed through byte for byte. A-law and 8 kHz PCM are exact transcodings of it; 16 kHz
/// PCM is resampled 8 → 16 kHz. Everything else the service offers (mp3, opus, PCM at 22.05 kHz and
/// above) is refused with a clear "unsupported in emulator" error: the voice has no more than 8 kHz
/// of bandwidth to give, and the project has no MP3/Opus encoder.
public enum ElevenLabsEmulatorOutputFormat: Sendable, Equatable, CustomStringConvertible {
    case ulaw8000
    case alaw8000
    case pcm8000
    case pcm16000

    /// Every format name the service documents, on either endpoint (§4.1), plus the asyncapi's
    /// older `mp3_44100`.
    public static let documentedNames: Set<String> = [
        "mp3_22050_32", "mp3_24000_48", "mp3_44100", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96",
        "mp3_44100_128", "mp3_44100_192",
        "pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000", "pcm_32000", "pcm_44100", "pcm_48000",
        "ulaw_8000", "alaw_8000",
        "opus_48000_32", "opus_48000_64", "opus_48000_96", "opus_48000_128", "opus_48000_192",
    ]

    /// The service's default when the client names none: WebSocket (asyncapi) and HTTP (OpenAPI).
    /// Both are MP3, which the emulator refuses: a client that forgets `output_format=ulaw_8000`
    /// finds out here rather than by playing MP3 as μ-law.
    public static let webSocketDefaultName = "mp3_44100"
    public static let httpDefaultName = "mp3_44100_128"

    public enum Problem: Error, Sendable, Equatable {
        /// Not a format the service knows.
        case unknown(String)
        /// A real format the emulator can't produce.
        case unsupported(String)

        public var reason: String {
            switch self {
            case .unknown(let name): ElevenLabsEmulatorProtocol.unknownFormatReason(name)
            case .unsupported(let name): ElevenLabsEmulatorProtocol.unsupportedFormatReason(name)
            }
        }
    }

    public static func parse(_ name: String) -> Result<ElevenLabsEmulatorOutputFormat, Problem> {
        switch name {
        case "ulaw_8000": .success(.ulaw8000)
        case "alaw_8000": .success(.alaw8000)
        case "pcm_8000": .success(.pcm8000)
        case "pcm_16000": .success(.pcm16000)
        default: .failure(documentedNames.contains(name) ? .unsupported(name) : .unknown(name))
        }
    }

    public var description: String {
        switch self {
        case .ulaw8000: "ulaw_8000"
        case .alaw8000: "alaw_8000"
        case .pcm8000: "pcm_8000"
        case .pcm16000: "pcm_16000"
        }
    }

    /// Bytes per millisecond of audio.
    public var bytesPerMs: Int { mediaFormat.bytes(milliseconds: 1) }

    /// What the format's bytes are.
    public var mediaFormat: MediaFormat {
        switch self {
        case .ulaw8000: .mulaw8kMono
        case .alaw8000: .alaw8kMono
        case .pcm8000: .l16LittleEndian(8000)
        case .pcm16000: .l16LittleEndian(16000)
        }
    }
}
