/// Sample encodings a telephony WAV file carries, with their RIFF format tags.
public enum WAVEncoding: Sendable, Equatable {
    case pcm16
    case ulaw
    case alaw

    /// `WAVE_FORMAT_PCM` (1), `WAVE_FORMAT_MULAW` (7), `WAVE_FORMAT_ALAW` (6).
    public var formatTag: Int {
        switch self {
        case .pcm16: 1
        case .ulaw: 7
        case .alaw: 6
        }
    }

    public var bitsPerSample: Int { self == .pcm16 ? 16 : 8 }
    public var bytesPerSample: Int { bitsPerSample / 8 }
}

/// Audio as a WAV file holds it: format plus raw sample bytes (PCM16 little-endian, or G.711 codes).
public struct WAVAudio: Sendable, Equatable {
    public var sampleRate: Int
    public var channels: Int
    public var encoding: WAVEncoding
    public var data: [UInt8]

    public init(sampleRate: Int, channels: Int = 1, encoding: WAVEncoding, data: [UInt8]) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.encoding = encoding
        self.data = data
    }

    /// PCM16 audio from linear samples (interleaved if `channels` > 1).
    public init(pcm16 samples: [Int16], sampleRate: Int, channels: Int = 1) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(samples.count * 2)
        for sample in samples {
            let bits = UInt16(bitPattern: sample)
            bytes.append(UInt8(truncatingIfNeeded: bits))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
        }
        self.init(sampleRate: sampleRate, channels: channels, encoding: .pcm16, data: bytes)
    }

    /// G.711 audio from codes.
    public init(g711 codes: [UInt8], law: G711Law, sampleRate: Int = 8000, channels: Int = 1) {
        self.init(sampleRate: sampleRate, channels: channels, encoding: law == .ulaw ? .ulaw : .alaw, data: codes)
    }

    /// Bytes per sample frame (all channels).
    public var blockAlign: Int { encoding.bytesPerSample * channels }

    /// Whole sample frames in `data`.
    public var frameCount: Int { blockAlign > 0 ? data.count / blockAlign : 0 }

    public var durationMs: Double {
        guard sampleRate > 0 else { return 0 }
        return Double(frameCount) * 1000 / Double(sampleRate)
    }

    /// The samples as linear PCM (interleaved), decoding G.711 when needed.
    public var pcm16Samples: [Int16] {
        switch encoding {
        case .pcm16:
            let count = data.count / 2
            return [Int16](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count {
                    out[i] = Int16(bitPattern: UInt16(data[2 * i]) | UInt16(data[2 * i + 1]) << 8)
                }
                initialized = count
            }
        case .ulaw:
            return G711.decode(data, law: .ulaw)
        case .alaw:
            return G711.decode(data, law: .alaw)
        }
    }
}
