import Foundation
import Testing
@testable import VoiceBridgeAudio

@Suite struct ResamplerTests {
    /// Output after the filter has settled: skips the output latency plus a margin for the ramp-up.
    private func settled(_ output: [Int16], resampler: Resampler) -> ArraySlice<Int16> {
        let skip = resampler.outputLatency * 2 + 64
        #expect(output.count > 2 * skip + 1000, "too little output to measure")
        guard output.count > 2 * skip + 1000 else { return [] }
        return output[skip ..< output.count - skip]
    }

    @Test func oneKilohertzPassesWithinHalfADecibel() throws {
        let resampler = try Resampler(inputRate: 16000, outputRate: 8000)
        let input = Signals.sine(frequency: 1000, amplitude: 16000, count: 16000, sampleRate: 16000)
        let output = resampler.process(input)
        #expect(abs(output.count - 8000) <= 2 + resampler.outputLatency)
        let gain = 20 * log10(Signals.rms(settled(output, resampler: resampler)) / Signals.rms(input))
        #expect(abs(gain) <= 0.5, "gain \(gain) dB")
    }

    @Test func fiveKilohertzIsAttenuatedAtLeast50dB() throws {
        let resampler = try Resampler(inputRate: 16000, outputRate: 8000)
        let input = Signals.sine(frequency: 5000, amplitude: 16000, count: 16000, sampleRate: 16000)
        let output = resampler.process(input)
        let gain = 20 * log10(max(Signals.rms(settled(output, resampler: resampler)), 1e-3) / Signals.rms(input))
        #expect(gain <= -50, "gain \(gain) dB")
    }

    @Test func upsamplingKeepsAToneAndItsLength() throws {
        let resampler = try Resampler(inputRate: 8000, outputRate: 16000)
        let input = Signals.sine(frequency: 1000, amplitude: 10000, count: 8000, sampleRate: 8000)
        let output = resampler.process(input)
        #expect(abs(output.count - 16000) <= 2 + resampler.outputLatency)
        let gain = 20 * log10(Signals.rms(settled(output, resampler: resampler)) / Signals.rms(input))
        #expect(abs(gain) <= 0.5, "gain \(gain) dB")
    }

    @Test(arguments: [22050, 24000, 44100, 48000, 16000])
    func chunkedStreamingMatchesOneShot(inputRate: Int) throws {
        var rng = SplitMix64(seed: UInt64(inputRate))
        let input = (0..<inputRate).map { i in
            Signals.clip(9000 * sin(2 * Double.pi * 440 * Double(i) / Double(inputRate)) + 3000 * rng.gaussian())
        }
        let reference = try Resampler(inputRate: inputRate, outputRate: 8000).process(input)

        let streaming = try Resampler(inputRate: inputRate, outputRate: 8000)
        var output: [Int16] = []
        var start = 0
        while start < input.count {
            let end = min(input.count, start + Int.random(in: 1...1500, using: &rng))
            input[start ..< end].withUnsafeBufferPointer { streaming.process($0, into: &output) }
            start = end
        }
        #expect(output.count == reference.count)
        let worst = zip(output, reference).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst <= 1, "largest difference \(worst) LSB")
    }

    @Test func resetMakesItBehaveLikeAFreshResampler() throws {
        var rng = SplitMix64(seed: 11)
        let first = (0..<5000).map { _ in Int16.random(in: -20000...20000, using: &rng) }
        let second = Signals.sine(frequency: 700, amplitude: 12000, count: 4800, sampleRate: 24000)
        let used = try Resampler(inputRate: 24000, outputRate: 8000)
        _ = used.process(first)
        used.reset()
        let afterReset = used.process(second)
        let fresh = try Resampler(inputRate: 24000, outputRate: 8000).process(second)
        #expect(afterReset == fresh)
        // Without reset the history must show, or this test could not tell the difference.
        let unreset = try Resampler(inputRate: 24000, outputRate: 8000)
        _ = unreset.process(first)
        #expect(unreset.process(second) != fresh)
    }

    @Test func appendsToExistingOutput() throws {
        let resampler = try Resampler(inputRate: 16000, outputRate: 8000)
        var output: [Int16] = [1, 2, 3]
        let input = [Int16](repeating: 0, count: 320)
        input.withUnsafeBufferPointer { resampler.process($0, into: &output) }
        #expect(Array(output.prefix(3)) == [1, 2, 3])
        #expect(output.count > 3)
        #expect(resampler.inputLatency > 0)
    }

    @Test func unsupportedConversionsThrowClearErrors() {
        #expect(throws: ResamplerError.unsupportedConversion(inputRate: 8000, outputRate: 44100)) {
            try Resampler(inputRate: 8000, outputRate: 44100)
        }
        #expect(throws: ResamplerError.unsupportedConversion(inputRate: 11025, outputRate: 8000)) {
            try Resampler(inputRate: 11025, outputRate: 8000)
        }
        #expect(throws: ResamplerError.invalidQuality(11)) {
            try Resampler(inputRate: 16000, outputRate: 8000, quality: 11)
        }
        let message = ResamplerError.unsupportedConversion(inputRate: 8000, outputRate: 44100).description
        #expect(message.contains("8000 Hz → 44100 Hz"))
        #expect(message.contains("24000→8000"))
    }
}

@Suite struct WholeRecordingResampleTests {
    /// A whole recording keeps its exact duration and its timing: no filter delay, no lost tail.
    @Test(arguments: [(16000, 8000), (8000, 16000), (24000, 16000), (44100, 8000), (48000, 16000)])
    func keepsLengthAndAlignment(rates: (Int, Int)) throws {
        let (input, output) = rates
        let source = Signals.sine(frequency: 500, amplitude: 10000, count: input, sampleRate: Double(input))
        let result = try Resampler.resample(source, from: input, to: output)
        #expect(result.count == output)
        let expected = Signals.sine(frequency: 500, amplitude: 10000, count: output, sampleRate: Double(output))
        // Aligned within half an output sample (speexdsp reports its delay in whole samples, so an
        // odd ratio such as 44100 → 8000 keeps a fraction): a half-sample shift of this tone
        // differs by at most amplitude × 2π f / rate × ½. A whole filter delay would be ~20 times more.
        let halfSample = Int(10000 * 2 * Double.pi * 500 / Double(output) / 2)
        let worst = zip(result, expected).dropFirst(64).dropLast(64).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst < halfSample, "largest difference \(worst) at \(input) → \(output)")
    }

    @Test func sameRateIsIdentity() throws {
        let samples: [Int16] = [1, -2, 3]
        #expect(try Resampler.resample(samples, from: 16000, to: 16000) == samples)
    }
}
