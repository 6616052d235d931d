import VoiceBridgeAudio

/// One direction of a call as linear 16-bit samples at 8 kHz, sample 0 at the recording's time 0,
/// so a sample's index divided by 8 is its time on the timeline and an `<audio>` element's
/// `currentTime` is the timeline's time too.
public struct TimelineAudio: Sendable, Equatable {
    public static let sampleRate = 8000
    public static let samplesPerMs = sampleRate / 1000

    public private(set) var samples: [Int16] = []

    public init(samples: [Int16] = []) {
        self.samples = samples
    }

    public var durationMs: Double { Double(samples.count) / Double(Self.samplesPerMs) }

    /// Writes `pcm` from `sample` on, growing the track with silence where it must.
    mutating func write(_ pcm: [Int16], atSample sample: Int) {
        guard sample >= 0, !pcm.isEmpty else { return }
        let end = sample + pcm.count
        if samples.count < end { samples.append(contentsOf: repeatElement(0, count: end - samples.count)) }
        samples.replaceSubrange(sample..<end, with: pcm)
    }

    /// Silences everything from `sample` on: what a carrier drops on `clear`.
    mutating func silence(from sample: Int) {
        guard sample < samples.count else { return }
        let from = max(0, sample)
        samples.replaceSubrange(from..<samples.count, with: repeatElement(0, count: samples.count - from))
    }

    /// Pads (with silence) or cuts the track to `count` samples, so both directions share a length.
    mutating func resize(to count: Int) {
        if samples.count < count {
            samples.append(contentsOf: repeatElement(0, count: count - samples.count))
        } else if samples.count > count {
            samples.removeLast(samples.count - count)
        }
    }

    /// A playable file: 8 kHz mono 16-bit PCM WAV.
    public var wav: [UInt8] {
        WAVFile.encode(WAVAudio(pcm16: samples, sampleRate: Self.sampleRate))
    }

    /// The waveform to draw: the smallest and largest sample of each `bucketMs`, as fractions of
    /// full scale.
    public func peaks(bucketMs: Int) -> [(low: Double, high: Double)] {
        let size = max(1, bucketMs * Self.samplesPerMs)
        var out: [(low: Double, high: Double)] = []
        out.reserveCapacity(samples.count / size + 1)
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + size)
            var low: Int16 = 0
            var high: Int16 = 0
            for s in samples[start..<end] {
                low = min(low, s)
                high = max(high, s)
            }
            out.append((Double(low) / 32768, Double(high) / 32768))
            start = end
        }
        return out
    }
}
