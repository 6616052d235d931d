import VoiceBridgeAudio

/// How a built prompt is stored on disk: what telephony platforms play from a directory.
///
/// The WAV formats carry their own header; `ulaw` (raw G.711 μ-law, 8 kHz) and `sln16` (raw
/// signed 16-bit little-endian at 16 kHz, Asterisk's and FreeSWITCH's `.sln16`) are headerless,
/// so their format is known from the extension alone.
public enum PromptFormat: String, Sendable, CaseIterable, Codable {
    case ulawWAV = "ulaw_wav"
    case ulaw = "ulaw"
    case alawWAV = "alaw_wav"
    case pcm16WAV8k = "pcm16_wav_8k"
    case pcm16WAV16k = "pcm16_wav_16k"
    case sln16 = "sln16"

    public var fileExtension: String {
        switch self {
        case .ulawWAV, .alawWAV, .pcm16WAV8k, .pcm16WAV16k: "wav"
        case .ulaw: "ulaw"
        case .sln16: "sln16"
        }
    }

    public var sampleRate: Int {
        switch self {
        case .ulawWAV, .ulaw, .alawWAV, .pcm16WAV8k: 8000
        case .pcm16WAV16k, .sln16: 16000
        }
    }

    public var encoding: WAVEncoding {
        switch self {
        case .ulawWAV, .ulaw: .ulaw
        case .alawWAV: .alaw
        case .pcm16WAV8k, .pcm16WAV16k, .sln16: .pcm16
        }
    }

    /// Whether the file is a RIFF/WAVE container (else raw samples).
    public var isWAV: Bool { fileExtension == "wav" }

    /// What to ask ElevenLabs for when the catalogue doesn't say: the telephony format itself for
    /// 8 kHz files, and 16 kHz PCM for wideband ones (μ-law upsampled would have no highs to give).
    public var defaultSynthesisFormat: SynthesisFormat {
        sampleRate == 16000 ? .pcm(16000) : .ulaw8000
    }

    /// "ulaw_wav | ulaw | …", for error messages and help.
    public static var choices: String { allCases.map(\.rawValue).joined(separator: " | ") }
}

/// The `output_format` a prompt is synthesised in upstream: G.711 at 8 kHz, or 16-bit PCM at one
/// of ElevenLabs' rates, resampled afterwards to the file's rate.
public enum SynthesisFormat: Sendable, Hashable, CustomStringConvertible {
    case ulaw8000
    case alaw8000
    case pcm(Int)

    /// The PCM rates ElevenLabs streams that this project can resample to 8 and 16 kHz.
    public static let pcmRates = [8000, 16000, 22050, 24000, 44100, 48000]

    public init?(name: String) {
        switch name {
        case "ulaw_8000": self = .ulaw8000
        case "alaw_8000": self = .alaw8000
        default:
            guard name.hasPrefix("pcm_"), let rate = Int(name.dropFirst(4)), Self.pcmRates.contains(rate) else { return nil }
            self = .pcm(rate)
        }
    }

    /// The ElevenLabs `output_format` value.
    public var name: String {
        switch self {
        case .ulaw8000: "ulaw_8000"
        case .alaw8000: "alaw_8000"
        case .pcm(let rate): "pcm_\(rate)"
        }
    }

    public var description: String { name }

    public var sampleRate: Int {
        switch self {
        case .ulaw8000, .alaw8000: 8000
        case .pcm(let rate): rate
        }
    }

    public static var choices: String { (["ulaw_8000", "alaw_8000"] + pcmRates.map { "pcm_\($0)" }).joined(separator: " | ") }
}
