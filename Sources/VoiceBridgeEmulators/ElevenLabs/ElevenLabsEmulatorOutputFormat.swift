import VoiceBridgeAudio

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
    public var bytesPerMs: Int {
        switch self {
        case .ulaw8000, .alaw8000: 8
        case .pcm8000: 16
        case .pcm16000: 32
        }
    }
}

/// Turns one generation's μ-law into the requested format, piece by piece. Stateful for 16 kHz
/// (the resampler carries its filter history across pieces). Confined to one event loop.
final class ElevenLabsEmulatorFormatConverter {
    let format: ElevenLabsEmulatorOutputFormat
    private let resampler: Resampler?
    /// 16 kHz samples still owed to the start-of-stream delay of the resampler.
    private var delayToSkip = 0
    private var inputSamples = 0
    private var outputSamples = 0
    private var scratch: [Int16] = []

    init(format: ElevenLabsEmulatorOutputFormat) {
        self.format = format
        if format == .pcm16000 {
            // 8000 → 16000 is a supported conversion, so this can't fail.
            let resampler = try? Resampler(inputRate: 8000, outputRate: 16000)
            self.resampler = resampler
            delayToSkip = resampler?.outputLatency ?? 0
        } else {
            resampler = nil
        }
    }

    func convert(_ ulaw: [UInt8]) -> [UInt8] {
        switch format {
        case .ulaw8000:
            return ulaw
        case .alaw8000:
            return G711.encode(G711.decode(ulaw, law: .ulaw), law: .alaw)
        case .pcm8000:
            return Self.littleEndian(G711.decode(ulaw, law: .ulaw)[...])
        case .pcm16000:
            inputSamples += ulaw.count
            return resample(G711.decode(ulaw, law: .ulaw))
        }
    }

    /// The end of the generation: for 16 kHz, the resampler's tail, so the total is exactly twice
    /// the μ-law sample count.
    func finish() -> [UInt8] {
        guard let resampler else { return [] }
        let owed = 2 * inputSamples - outputSamples
        guard owed > 0 else { return [] }
        var tail: [Int16] = []
        let silence = [Int16](repeating: 0, count: resampler.inputLatency + owed / 2 + 8)
        silence.withUnsafeBufferPointer { resampler.process($0, into: &tail) }
        var usable = tail[...]
        if delayToSkip > 0 {
            let skip = min(delayToSkip, usable.count)
            usable = usable.dropFirst(skip)
            delayToSkip -= skip
        }
        let out = usable.prefix(owed)
        outputSamples += out.count
        var padded = Array(out)
        if padded.count < owed { padded += [Int16](repeating: 0, count: owed - padded.count) }
        return Self.littleEndian(padded[...])
    }

    private func resample(_ pcm: [Int16]) -> [UInt8] {
        guard let resampler else { return [] }
        scratch.removeAll(keepingCapacity: true)
        pcm.withUnsafeBufferPointer { resampler.process($0, into: &scratch) }
        var usable = scratch[...]
        if delayToSkip > 0 {
            let skip = min(delayToSkip, usable.count)
            usable = usable.dropFirst(skip)
            delayToSkip -= skip
        }
        // Never more than the exact total so far (twice the input).
        let allowed = max(0, 2 * inputSamples - outputSamples)
        let out = usable.prefix(allowed)
        outputSamples += out.count
        return Self.littleEndian(out)
    }

    private static func littleEndian(_ samples: ArraySlice<Int16>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(samples.count * 2)
        for sample in samples {
            let bits = UInt16(bitPattern: sample)
            bytes.append(UInt8(truncatingIfNeeded: bits))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
        }
        return bytes
    }
}
