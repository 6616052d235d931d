extension WAVAudio {
    /// The audio as the phone line wants it: μ-law, 8 kHz, mono. μ-law 8 kHz mono passes
    /// through byte for byte; anything else is decoded, mixed down and resampled.
    public func telephonyULaw() throws(WAVError) -> [UInt8] {
        if encoding == .ulaw, sampleRate == 8000, channels == 1 { return data }
        guard channels >= 1 else { throw WAVError.invalidChannelCount(channels) }
        var samples = pcm16Samples
        if channels > 1 {
            let frames = samples.count / channels
            samples = (0..<frames).map { f in
                var sum = 0
                for c in 0..<channels { sum += Int(samples[f * channels + c]) }
                return Int16(clamping: sum / channels)
            }
        }
        if sampleRate != 8000 {
            do {
                samples = try Resampler.resample(samples, from: sampleRate, to: 8000)
            } catch {
                throw WAVError.unsupportedSampleRate(sampleRate)
            }
        }
        return G711.encode(samples, law: .ulaw)
    }
}
