import VoiceBridgeAudio

/// Audio as the synthesiser made it: bytes in `format`, no container.
public struct SynthesizedAudio: Sendable, Equatable {
    public var format: SynthesisFormat
    public var bytes: [UInt8]

    public init(format: SynthesisFormat, bytes: [UInt8]) {
        self.format = format
        self.bytes = bytes
    }

    /// Bytes per sample in `format`.
    var bytesPerSample: Int {
        if case .pcm = format { return 2 }
        return 1
    }

    public var durationMs: Int { bytes.count / bytesPerSample * 1000 / format.sampleRate }
}

/// Why audio could not be turned into a prompt file, or a prompt file back into audio.
public enum PromptAudioError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Upstream sent no audio at all.
    case empty
    /// Upstream wrapped the audio in a WAV header whose format is not the one asked for.
    case unexpectedContainer(asked: String, got: String)
    /// A prompt file that is not what its format says.
    case unreadable(String)
    /// No resampler for this pair of rates.
    case unsupportedRate(from: Int, to: Int)

    public var description: String {
        switch self {
        case .empty: "the synthesiser returned no audio"
        case .unexpectedContainer(let asked, let got): "asked for raw \(asked) but got a WAV file of \(got)"
        case .unreadable(let why): "unreadable prompt file: \(why)"
        case .unsupportedRate(let from, let to): "can't resample \(from) Hz to \(to) Hz"
        }
    }
}

/// Conversions between synthesised audio, prompt files and the carrier's μ-law 8 kHz. Pure: bytes
/// in, bytes out.
public enum PromptAudio {
    /// Checks and cleans what upstream sent before anything is stored: no audio is an error, a WAV
    /// header in front of raw audio is removed (it would play as a click) when it matches the format
    /// asked for, and the odd byte of a cut-off 16-bit sample is dropped.
    public static func validated(_ audio: SynthesizedAudio) throws(PromptAudioError) -> SynthesizedAudio {
        var audio = audio
        if audio.bytes.count >= 12, audio.bytes[0..<4].elementsEqual("RIFF".utf8), audio.bytes[8..<12].elementsEqual("WAVE".utf8) {
            let wav: WAVAudio
            do { wav = try WAVFile.decode(audio.bytes) } catch { throw .unexpectedContainer(asked: audio.format.name, got: "\(error)") }
            let expected: WAVEncoding = switch audio.format {
            case .ulaw8000: .ulaw
            case .alaw8000: .alaw
            case .pcm: .pcm16
            }
            guard wav.channels == 1, wav.encoding == expected, wav.sampleRate == audio.format.sampleRate else {
                throw .unexpectedContainer(asked: audio.format.name, got: "\(wav.encoding) \(wav.sampleRate) Hz, \(wav.channels) channel(s)")
            }
            audio.bytes = wav.data
        }
        if audio.bytesPerSample == 2, audio.bytes.count % 2 == 1 { audio.bytes.removeLast() }
        guard !audio.bytes.isEmpty else { throw .empty }
        return audio
    }

    /// The file for `audio` in `format`. G.711 that is already in the file's law is stored byte for
    /// byte; everything else goes through linear PCM, resampled when the rates differ.
    public static func file(from audio: SynthesizedAudio, as format: PromptFormat) throws(PromptAudioError) -> [UInt8] {
        let payload: [UInt8]
        switch (audio.format, format.encoding) {
        case (.ulaw8000, .ulaw) where format.sampleRate == 8000, (.alaw8000, .alaw) where format.sampleRate == 8000:
            payload = audio.bytes
        default:
            let samples = try resampled(linear(audio), from: audio.format.sampleRate, to: format.sampleRate)
            switch format.encoding {
            case .ulaw: payload = G711.encode(samples, law: .ulaw)
            case .alaw: payload = G711.encode(samples, law: .alaw)
            case .pcm16: payload = WAVAudio(pcm16: samples, sampleRate: format.sampleRate).data
            }
        }
        guard format.isWAV else { return payload }
        return WAVFile.encode(WAVAudio(sampleRate: format.sampleRate, encoding: format.encoding, data: payload))
    }

    /// The duration of a prompt file's audio, in milliseconds.
    public static func durationMs(ofFile bytes: [UInt8], format: PromptFormat) throws(PromptAudioError) -> Int {
        let (encoding, rate, data) = try contents(ofFile: bytes, format: format)
        return data.count / encoding.bytesPerSample * 1000 / rate
    }

    /// A prompt file as the carrier plays it: μ-law at 8 kHz, whatever the file holds. The header
    /// of a WAV file is believed over `format`, so a file replaced by hand still plays right.
    public static func telephonyULaw(fromFile bytes: [UInt8], format: PromptFormat) throws(PromptAudioError) -> [UInt8] {
        let (encoding, rate, data) = try contents(ofFile: bytes, format: format)
        do {
            return try WAVAudio(sampleRate: rate, encoding: encoding, data: data).telephonyULaw()
        } catch {
            throw .unsupportedRate(from: rate, to: 8000)
        }
    }

    // MARK: -

    private static func contents(ofFile bytes: [UInt8], format: PromptFormat) throws(PromptAudioError) -> (WAVEncoding, Int, [UInt8]) {
        guard format.isWAV else {
            let usable = bytes.count - bytes.count % format.encoding.bytesPerSample
            return (format.encoding, format.sampleRate, Array(bytes[0..<usable]))
        }
        let wav: WAVAudio
        do { wav = try WAVFile.decode(bytes) } catch { throw .unreadable("\(error)") }
        guard wav.channels == 1 else { throw .unreadable("\(wav.channels) channels; prompts are mono") }
        return (wav.encoding, wav.sampleRate, wav.data)
    }

    private static func linear(_ audio: SynthesizedAudio) -> [Int16] {
        switch audio.format {
        case .ulaw8000: G711.decode(audio.bytes, law: .ulaw)
        case .alaw8000: G711.decode(audio.bytes, law: .alaw)
        case .pcm: WAVAudio(sampleRate: audio.format.sampleRate, encoding: .pcm16, data: audio.bytes).pcm16Samples
        }
    }

    private static func resampled(_ samples: [Int16], from input: Int, to output: Int) throws(PromptAudioError) -> [Int16] {
        do {
            return try Resampler.resample(samples, from: input, to: output)
        } catch {
            throw .unsupportedRate(from: input, to: output)
        }
    }
}
