import Foundation
import Testing
@testable import VoiceBridgeAudio

@Suite struct ToneGeneratorTests {
    /// Goertzel power of `frequency` relative to total power, in dB (0 dB: all energy at that frequency).
    private func relativePower(of frequency: Double, in samples: ArraySlice<Int16>, sampleRate: Double = 8000) -> Double {
        let coefficient = 2 * cos(2 * Double.pi * frequency / sampleRate)
        var s1 = 0.0, s2 = 0.0, energy = 0.0
        for sample in samples {
            let x = Double(sample)
            energy += x * x
            let s0 = x + coefficient * s1 - s2
            s2 = s1
            s1 = s0
        }
        let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        // A pure sine of N samples puts N/2 · energy into its bin (2/N normalisation).
        return 10 * log10(max(2 * power / Double(samples.count), 1e-9) / max(energy, 1e-9))
    }

    /// Fraction of 10 ms windows that are non-silent, per second of signal.
    private func activity(_ samples: [Int16], windowMs: Int = 10) -> [Bool] {
        stride(from: 0, to: samples.count, by: windowMs * 8).map { start in
            Signals.rms(samples[start ..< min(samples.count, start + windowMs * 8)]) > 50
        }
    }

    @Test func lengthsFollowDurationAndRate() {
        for tone in CallProgressTone.allCases {
            #expect(ToneGenerator.pcm(tone, durationMs: 1234).count == 1234 * 8)
            #expect(ToneGenerator.pcm(tone, durationMs: 500, sampleRate: 16000).count == 8000)
            #expect(ToneGenerator.pcm(tone, durationMs: 0).isEmpty)
        }
    }

    @Test func ringbackIsTwoSecondsOf440And480ThenFourSilent() {
        let ring = ToneGenerator.pcm(.ringback, durationMs: 6000)
        let on = ring[800 ..< 15200]
        #expect(relativePower(of: 440, in: on) > -4)
        #expect(relativePower(of: 480, in: on) > -4)
        #expect(relativePower(of: 620, in: on) < -20)
        // Each component at -19 dBm0: the pair is about -16 dBm0.
        #expect(abs(Signals.dBm0(rms: Signals.rms(on)) - -16) < 1)
        let windows = activity(ring)
        #expect(windows[5..<195].allSatisfy { $0 })
        #expect(windows[205..<595].allSatisfy { !$0 })
    }

    @Test(arguments: [(CallProgressTone.busy, 500), (.reorder, 250)])
    func busyAndReorderCadences(tone: CallProgressTone, halfPeriodMs: Int) {
        let samples = ToneGenerator.pcm(tone, durationMs: 4 * halfPeriodMs)
        let firstOn = samples[80 ..< halfPeriodMs * 8 - 80]
        #expect(relativePower(of: 480, in: firstOn) > -4)
        #expect(relativePower(of: 620, in: firstOn) > -4)
        let windows = activity(samples)
        let half = halfPeriodMs / 10
        #expect(windows[1 ..< half - 1].allSatisfy { $0 })
        #expect(windows[half + 1 ..< 2 * half - 1].allSatisfy { !$0 })
        #expect(windows[2 * half + 1 ..< 3 * half - 1].allSatisfy { $0 })
    }

    @Test func beepIsASteadyKilohertz() {
        let beep = ToneGenerator.pcm(.beep, durationMs: 300)
        #expect(relativePower(of: 1000, in: beep[...]) > -1)
        #expect(activity(beep)[1..<29].allSatisfy { $0 })
        let wide = ToneGenerator.pcm(.beep, durationMs: 300, sampleRate: 16000)
        #expect(relativePower(of: 1000, in: wide[160 ..< 4640], sampleRate: 16000) > -1)
        // The resampled tone starts at the start, not after the filter delay.
        #expect(Signals.rms(wide[0..<80]) > 1000)
    }

    @Test func dtmfLayoutAndLevel() throws {
        let pcm = try ToneGenerator.dtmf("19", toneMs: 80, gapMs: 60, levelDBm0: -10)
        #expect(pcm.count == 2 * 140 * 8)
        let firstTone = pcm[0 ..< 640]
        #expect(relativePower(of: 697, in: firstTone) > -4)
        #expect(relativePower(of: 1209, in: firstTone) > -4)
        #expect(pcm[640 ..< 1120].allSatisfy { $0 == 0 })
        let secondTone = pcm[1120 ..< 1760]
        #expect(relativePower(of: 852, in: secondTone) > -4)
        #expect(relativePower(of: 1477, in: secondTone) > -4)
        #expect(abs(Signals.dBm0(rms: Signals.rms(firstTone)) - -7) < 1)
        #expect(try ToneGenerator.dtmf("").isEmpty)
    }

    @Test func invalidDTMFInputThrowsClearErrors() {
        #expect(throws: ToneGeneratorError.invalidDTMFDigit("x", position: 2)) { try ToneGenerator.dtmf("12x4") }
        #expect(throws: ToneGeneratorError.invalidDTMFDigit("a", position: 0)) { try ToneGenerator.dtmf("a") }
        #expect(throws: ToneGeneratorError.invalidDTMFDigit(" ", position: 1)) { try ToneGenerator.dtmf("1 2") }
        #expect(throws: ToneGeneratorError.invalidTiming(toneMs: 0, gapMs: 100)) { try ToneGenerator.dtmf("1", toneMs: 0) }
        #expect(throws: ToneGeneratorError.invalidLevel(3)) { try ToneGenerator.dtmf("1", levelDBm0: 3) }
        #expect(ToneGeneratorError.invalidDTMFDigit("x", position: 2).description.contains("'x' at position 2"))
    }

    @Test func longDigitStringsAreComplete() throws {
        let digits = String(repeating: "0123456789*#ABCD", count: 20)
        let pcm = try ToneGenerator.dtmf(digits, toneMs: 50, gapMs: 50)
        #expect(pcm.count == digits.count * 100 * 8)
        #expect(DTMFDetector().process(pcm).map(\.digit) == Array(digits))
    }

    @Test func ulawConvenienceMatchesG711() {
        let pcm = ToneGenerator.pcm(.busy, durationMs: 100)
        #expect(ToneGenerator.ulaw(pcm) == G711.encode(pcm, law: .ulaw))
    }
}
