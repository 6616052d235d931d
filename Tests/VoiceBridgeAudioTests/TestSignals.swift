import Foundation
import VoiceBridgeAudio

enum Signals {
    /// RMS amplitude (in Int16 units) of a signal at `dBm0`, using SpanDSP's reference that a
    /// full-scale sine is +3.14 dBm0 (G.711 μ-law's digital milliwatt convention).
    static func rms(forDBm0 level: Double) -> Double {
        32768 / 2.0.squareRoot() * pow(10, (level - 3.14) / 20)
    }

    static func dBm0(rms: Double) -> Double {
        20 * log10(rms / (32768 / 2.0.squareRoot())) + 3.14
    }

    static func rms(_ samples: ArraySlice<Int16>) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sum = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
        return (sum / Double(samples.count)).squareRoot()
    }

    static func rms(_ samples: [Int16]) -> Double { rms(samples[...]) }

    static func clip(_ value: Double) -> Int16 {
        Int16(max(-32768, min(32767, value.rounded())))
    }

    static func sine(frequency: Double, amplitude: Double, count: Int, sampleRate: Double) -> [Int16] {
        (0..<count).map { clip(amplitude * sin(2 * Double.pi * frequency * Double($0) / sampleRate)) }
    }

    static func whiteNoise(rms: Double, count: Int, rng: inout SplitMix64) -> [Int16] {
        (0..<count).map { _ in clip(rms * rng.gaussian()) }
    }

    /// Adds white Gaussian noise `snrDB` below the RMS of `signal` measured over `activeRange`.
    static func addNoise(to signal: [Int16], snrDB: Double, referenceRMS: Double, rng: inout SplitMix64) -> [Int16] {
        let noiseRMS = referenceRMS / pow(10, snrDB / 20)
        return signal.map { clip(Double($0) + noiseRMS * rng.gaussian()) }
    }

    /// A voiced-speech stand-in: 150 Hz fundamental with harmonics falling at 6 dB/octave up to 3.5 kHz,
    /// amplitude-modulated at a syllable rate (4 Hz, 60% depth), scaled to `dBm0` RMS.
    static func speechLike(durationMs: Int, dBm0 level: Double, sampleRate: Double = 8000) -> [Int16] {
        let count = Int(Double(durationMs) * sampleRate / 1000)
        var raw = [Double](repeating: 0, count: count)
        let fundamental = 150.0
        for n in 0..<count {
            let t = Double(n) / sampleRate
            var value = 0.0
            var harmonic = 1.0
            while harmonic * fundamental < 3500 {
                value += sin(2 * Double.pi * harmonic * fundamental * t + harmonic * 0.7) / harmonic
                harmonic += 1
            }
            let envelope = 1 - 0.6 * (0.5 + 0.5 * cos(2 * Double.pi * 4 * t))
            raw[n] = value * envelope
        }
        let currentRMS = (raw.reduce(0) { $0 + $1 * $1 } / Double(max(count, 1))).squareRoot()
        let scale = rms(forDBm0: level) / max(currentRMS, 1e-9)
        return raw.map { clip($0 * scale) }
    }
}
