/// Why bytes are not a WAV file this module can read. Each case names the problem precisely enough to
/// act on (e.g. an HTTP error body saved as audio shows up as `notRIFF`).
public enum WAVError: Error, Equatable, CustomStringConvertible {
    /// Fewer than the 12 bytes of a RIFF/WAVE header.
    case truncatedHeader(byteCount: Int)
    case notRIFF
    case notWAVE
    /// A chunk (other than data) declares more bytes than the file has left.
    case truncatedChunk(id: String, declaredSize: Int, available: Int)
    /// The data chunk declares more bytes than the file has left.
    case truncatedData(declaredSize: Int, available: Int)
    case missingFormatChunk
    case missingDataChunk
    case formatChunkTooSmall(size: Int)
    case unsupportedFormatTag(Int)
    case unsupportedBitsPerSample(formatTag: Int, bits: Int)
    case invalidChannelCount(Int)
    case invalidSampleRate(Int)
    case badBlockAlign(expected: Int, actual: Int)
    /// A valid rate the resampler has no conversion to 8 kHz for.
    case unsupportedSampleRate(Int)
    /// The file could not be read at all (missing, a directory, no permission).
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            "\(path): \(reason)"
        case let .truncatedHeader(count):
            "WAV: truncated header (\(count) bytes, a RIFF/WAVE header needs 12)"
        case .notRIFF:
            "WAV: not a RIFF file (missing 'RIFF' magic)"
        case .notWAVE:
            "WAV: RIFF file is not WAVE (missing 'WAVE' form type)"
        case let .truncatedChunk(id, declared, available):
            "WAV: chunk '\(id)' declares \(declared) bytes but only \(available) remain"
        case let .truncatedData(declared, available):
            "WAV: data chunk declares \(declared) bytes but only \(available) remain"
        case .missingFormatChunk:
            "WAV: missing 'fmt ' chunk"
        case .missingDataChunk:
            "WAV: missing 'data' chunk"
        case let .formatChunkTooSmall(size):
            "WAV: 'fmt ' chunk of \(size) bytes is too small"
        case let .unsupportedFormatTag(tag):
            "WAV: unsupported format tag \(tag) (supported: 1 PCM, 6 A-law, 7 μ-law)"
        case let .unsupportedBitsPerSample(tag, bits):
            "WAV: \(bits) bits per sample is unsupported for format tag \(tag) (PCM needs 16, G.711 needs 8)"
        case let .invalidChannelCount(count):
            "WAV: invalid channel count \(count)"
        case let .invalidSampleRate(rate):
            "WAV: invalid sample rate \(rate)"
        case let .badBlockAlign(expected, actual):
            "WAV: bad block align \(actual) (expected \(expected))"
        case let .unsupportedSampleRate(rate):
            "WAV: \(rate) Hz can't be converted to 8 kHz (supported: 8000, 16000, 22050, 24000, 44100, 48000)"
        }
    }
}
