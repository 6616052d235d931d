import Foundation

/// How a signal's energy splits around a frequency: what tells wideband audio (speech with
/// fricatives up to 7 kHz) from narrowband audio upsampled (nothing above 4 kHz).
///
/// Hann-windowed 512-point FFTs over the whole signal, half-overlapped, with the power of each bin
/// summed below and above `splitHz`. Offline analysis, not for the media path.
public enum BandEnergy {
    public struct Split: Sendable, Equatable {
        public var below: Double
        public var above: Double

        /// The energy above the split relative to all of it, in dB; -infinity for none.
        public var aboveShareDB: Double {
            let total = below + above
            guard total > 0, above > 0 else { return -.infinity }
            return 10 * log10(above / total)
        }
    }

    public static func split(_ pcm: [Int16], sampleRate: Int, splitHz: Double = 4000) -> Split {
        let size = 512
        guard pcm.count >= size else { return Split(below: 0, above: 0) }
        let window = (0..<size).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(size - 1)) }
        let splitBin = Int((splitHz / Double(sampleRate) * Double(size)).rounded())
        var result = Split(below: 0, above: 0)
        var real = [Double](repeating: 0, count: size)
        var imaginary = [Double](repeating: 0, count: size)
        var start = 0
        while start + size <= pcm.count {
            for i in 0..<size {
                real[i] = Double(pcm[start + i]) * window[i]
                imaginary[i] = 0
            }
            fft(&real, &imaginary)
            // Skip DC; bins up to Nyquist.
            for bin in 1...(size / 2) {
                let power = real[bin] * real[bin] + imaginary[bin] * imaginary[bin]
                if bin < splitBin { result.below += power } else { result.above += power }
            }
            start += size / 2
        }
        return result
    }

    /// In-place iterative radix-2 FFT; `real.count` must be a power of two.
    static func fft(_ real: inout [Double], _ imaginary: inout [Double]) {
        let n = real.count
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 {
                j ^= bit
                bit >>= 1
            }
            j |= bit
            if i < j {
                real.swapAt(i, j)
                imaginary.swapAt(i, j)
            }
        }
        var length = 2
        while length <= n {
            let angle = -2 * Double.pi / Double(length)
            for blockStart in stride(from: 0, to: n, by: length) {
                for k in 0..<(length / 2) {
                    let wr = cos(angle * Double(k)), wi = sin(angle * Double(k))
                    let a = blockStart + k, b = a + length / 2
                    let tr = real[b] * wr - imaginary[b] * wi
                    let ti = real[b] * wi + imaginary[b] * wr
                    real[b] = real[a] - tr
                    imaginary[b] = imaginary[a] - ti
                    real[a] += tr
                    imaginary[a] += ti
                }
            }
            length <<= 1
        }
    }
}
