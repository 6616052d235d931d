import Testing
@testable import VoiceBridgeAudio

@Suite struct DTMFDetectorTests {
    static let allKeys = "0123456789*#ABCD"

    /// Every key once, `toneMs` on / `gapMs` off, after `leadMs` of silence.
    private func keypad(level: Double, leadMs: Int = 37, toneMs: Int = 100, gapMs: Int = 100) throws -> (signal: [Int16], starts: [Int]) {
        let lead = [Int16](repeating: 0, count: leadMs * 8)
        let tones = try ToneGenerator.dtmf(Self.allKeys, toneMs: toneMs, gapMs: gapMs, levelDBm0: level)
        let starts = (0..<Self.allKeys.count).map { leadMs + $0 * (toneMs + gapMs) }
        return (lead + tones, starts)
    }

    /// Feeds in 20 ms frames, as the inbound path does.
    private func detectInFrames(_ signal: [Int16]) -> [DetectedDigit] {
        let detector = DTMFDetector()
        var found: [DetectedDigit] = []
        signal.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                let end = min(start + 160, all.count)
                detector.process(UnsafeBufferPointer(rebasing: all[start ..< end])) { found.append($0) }
                start = end
            }
        }
        return found
    }

    private func expectAllKeys(_ found: [DetectedDigit], starts: [Int]) {
        #expect(String(found.map(\.digit)) == Self.allKeys)
        guard found.count == starts.count else { return }
        for (digit, start) in zip(found, starts) {
            #expect(abs(digit.startMs - start) <= 20, "digit \(digit.digit) reported at \(digit.startMs) ms, tone starts at \(start) ms")
        }
    }

    @Test(arguments: [-10.0, -20.0])
    func everyKeyIsDetectedOnceAtItsStart(level: Double) throws {
        let (signal, starts) = try keypad(level: level)
        expectAllKeys(detectInFrames(signal), starts: starts)
    }

    @Test func everyKeyIsDetectedOnceWithNoiseAt20dBSNR() throws {
        let level = -20.0
        let (clean, starts) = try keypad(level: level)
        // Reference: the RMS of the two-tone signal while a key is down (each component at `level`).
        let toneRMS = Signals.rms(forDBm0: level) * 2.0.squareRoot()
        for seed in 1...5 as ClosedRange<UInt64> {
            var rng = SplitMix64(seed: seed)
            let noisy = Signals.addNoise(to: clean, snrDB: 20, referenceRMS: toneRMS, rng: &rng)
            expectAllKeys(detectInFrames(noisy), starts: starts)
        }
    }

    @Test func feedingSizeDoesNotChangeTheResult() throws {
        let (signal, _) = try keypad(level: -20)
        let reference = detectInFrames(signal)
        var rng = SplitMix64(seed: 42)
        let detector = DTMFDetector()
        var found: [DetectedDigit] = []
        var start = 0
        while start < signal.count {
            let end = min(signal.count, start + Int.random(in: 1...700, using: &rng))
            found += detector.process(Array(signal[start ..< end]))
            start = end
        }
        #expect(found == reference)
    }

    @Test func tenSecondsOfWhiteNoiseGiveNoDigit() {
        for (seed, level) in [(7 as UInt64, -20.0), (8, -10.0), (9, -30.0)] {
            var rng = SplitMix64(seed: seed)
            let noise = Signals.whiteNoise(rms: Signals.rms(forDBm0: level), count: 80_000, rng: &rng)
            #expect(detectInFrames(noise).isEmpty, "noise at \(level) dBm0")
        }
    }

    @Test func tenSecondsOfSilenceGiveNoDigit() {
        #expect(detectInFrames([Int16](repeating: 0, count: 80_000)).isEmpty)
    }

    @Test func speechLikeSignalGivesNoDigit() {
        #expect(detectInFrames(Signals.speechLike(durationMs: 3000, dBm0: -15)).isEmpty)
    }

    @Test func resetForgetsHalfHeardToneAndRestartsTime() throws {
        let tone = try ToneGenerator.dtmf("7", toneMs: 100, gapMs: 100, levelDBm0: -10)
        let detector = DTMFDetector()
        // 15 ms of a press is too short to confirm; reset must drop it and start the timeline again at 0.
        #expect(detector.process(Array(tone[0..<120])).isEmpty)
        detector.reset()
        let found = detector.process([Int16](repeating: 0, count: 400) + tone)
        #expect(found.map(\.digit) == ["7"])
        #expect(abs((found.first?.startMs ?? -100) - 50) <= 20)
    }
}
