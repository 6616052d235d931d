import Foundation

/// Caller audio for hand-written replays and tests: μ-law 8 kHz, deterministic.
public enum CallerSignal {
    /// A voiced, speech-like signal: 150 Hz with its first eight harmonics (1/h), scaled so its
    /// level is about `levelDBm0`. Comfortably above the detector's -35 dBm0 at the default -20.
    public static func speech(ms: Int, levelDBm0: Double = -20) -> [UInt8] {
        let n = ms * 8
        // -20 dBm0 ≈ an amplitude scale of 2200 for this waveform (as the Calls tests use).
        let scale = 2200 * pow(10, (levelDBm0 + 20) / 20)
        var pcm = [Int16](repeating: 0, count: n)
        for i in 0..<n {
            let t = Double(i) / 8000
            var v = 0.0
            for h in 1...8 { v += sin(2 * .pi * 150 * Double(h) * t) / Double(h) }
            pcm[i] = Int16(max(-32767, min(32767, v * scale)))
        }
        return G711.encode(pcm, law: .ulaw)
    }

    /// White noise from a fixed seed, at about `levelDBm0`.
    public static func noise(ms: Int, levelDBm0: Double = -20) -> [UInt8] {
        var random = SplitMix64(seed: 0x5EED)
        // 0 dBm0 is an RMS of about 16000 on the 16-bit scale (a full-scale sine is +3.17 dBm0).
        let rms = 16_000 * pow(10, levelDBm0 / 20)
        let pcm = (0..<(ms * 8)).map { _ in Int16(max(-32767, min(32767, random.gaussian() * rms))) }
        return G711.encode(pcm, law: .ulaw)
    }

    /// One key as an in-band tone pair (100 ms).
    public static func dtmf(_ digit: Character) -> [UInt8] {
        G711.encode((try? ToneGenerator.dtmf(String(digit), toneMs: 100, gapMs: 0, levelDBm0: -10)) ?? [], law: .ulaw)
    }
}
