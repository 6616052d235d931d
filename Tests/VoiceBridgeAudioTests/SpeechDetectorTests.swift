import Foundation
import Testing
@testable import VoiceBridgeAudio

@Suite struct SpeechDetectorTests {
    private func silence(ms: Int) -> [Int16] { [Int16](repeating: 0, count: ms * 8) }

    /// Feeds 20 ms frames through the per-block API, noting which frame each event came in.
    private func runFrames(_ signal: [Int16], _ detector: SpeechDetector = SpeechDetector()) -> [(event: SpeechEvent, frameEndMs: Int)] {
        var events: [(SpeechEvent, Int)] = []
        signal.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                let end = min(start + 160, all.count)
                if let event = detector.process(UnsafeBufferPointer(rebasing: all[start ..< end])) {
                    events.append((event, end / 8))
                }
                start = end
            }
        }
        return events
    }

    @Test func speechBurstStartsWithinMinSpeechPlus20msAndStopsAfterHangover() {
        let config = SpeechDetectorConfiguration()
        let onset = 1000, length = 300
        var rng = SplitMix64(seed: 5)
        // Faint line noise (-65 dBm0) under everything, so "silence" is realistic, not digital zero.
        let clean = silence(ms: onset) + Signals.speechLike(durationMs: length, dBm0: -20) + silence(ms: 1000)
        let signal = Signals.addNoise(to: clean, snrDB: 0, referenceRMS: Signals.rms(forDBm0: -65), rng: &rng)
        let events = runFrames(signal)
        #expect(events.count == 2)
        guard events.count == 2, case let .started(onsetMs, confirmedMs) = events[0].event,
              case let .stopped(atMs) = events[1].event else {
            Issue.record("expected started then stopped, got \(events.map(\.event))")
            return
        }
        #expect(abs(onsetMs - onset) <= 10)
        #expect(confirmedMs >= onset + config.minSpeechMs - 10)
        #expect(confirmedMs <= onset + config.minSpeechMs + 20)
        // The event arrives in the frame where minSpeech was reached, not later.
        #expect(events[0].frameEndMs >= confirmedMs && events[0].frameEndMs - confirmedMs <= 20)
        let speechEnd = onset + length
        #expect(atMs >= speechEnd + config.hangoverMs)
        #expect(atMs <= speechEnd + config.hangoverMs + 40)
    }

    @Test func isSpeakingFollowsTheEvents() {
        let detector = SpeechDetector()
        #expect(detector.process(silence(ms: 200)).isEmpty)
        #expect(!detector.isSpeaking)
        let started = detector.process(Signals.speechLike(durationMs: 250, dBm0: -20))
        #expect(started.count == 1)
        #expect(detector.isSpeaking)
        let stopped = detector.process(silence(ms: 500))
        #expect(stopped.count == 1)
        if case let .stopped(atMs)? = stopped.first {
            #expect(atMs >= 450 + 400 && atMs <= 450 + 440)
        } else {
            Issue.record("expected stopped, got \(stopped)")
        }
        #expect(!detector.isSpeaking)
    }

    @Test func shortClickIsIgnored() {
        var rng = SplitMix64(seed: 9)
        // A loud 100 ms burst of noise, and a 100 ms speech-like blip: neither reaches minSpeech 200 ms.
        let noiseBurst = Signals.whiteNoise(rms: Signals.rms(forDBm0: -10), count: 800, rng: &rng)
        let blip = Signals.speechLike(durationMs: 100, dBm0: -15)
        let signal = silence(ms: 500) + noiseBurst + silence(ms: 1000) + blip + silence(ms: 1000)
        #expect(runFrames(signal).isEmpty)
    }

    @Test func shortGapsInsideSpeechKeepTheOnset() {
        // 120 ms speech, a 30 ms pause (a plosive or syllable break), then more speech.
        let signal = silence(ms: 400) + Signals.speechLike(durationMs: 120, dBm0: -20) + silence(ms: 30)
            + Signals.speechLike(durationMs: 300, dBm0: -20) + silence(ms: 100)
        let events = SpeechDetector().process(signal)
        guard case let .started(onsetMs, confirmedMs)? = events.first else {
            Issue.record("no start in \(events)")
            return
        }
        #expect(abs(onsetMs - 400) <= 10)
        #expect(abs(confirmedMs - 600) <= 20)
    }

    @Test func longGapsBreakAPendingOnset() {
        // Two 150 ms bursts 150 ms apart: each is shorter than minSpeech, and the gap is too long to bridge.
        let burst = Signals.speechLike(durationMs: 150, dBm0: -20)
        let signal = silence(ms: 300) + burst + silence(ms: 150) + burst + silence(ms: 600)
        #expect(SpeechDetector().process(signal).isEmpty)
    }

    @Test func quietNoiseBelowThresholdNeverStarts() {
        var rng = SplitMix64(seed: 21)
        let noise = Signals.whiteNoise(rms: Signals.rms(forDBm0: -45), count: 80_000, rng: &rng)
        #expect(runFrames(noise).isEmpty)
    }

    @Test func thresholdAndTimingsAreConfigurable() {
        let speech = silence(ms: 200) + Signals.speechLike(durationMs: 300, dBm0: -40) + silence(ms: 300)
        // -40 dBm0 speech is below the default -35 threshold…
        #expect(SpeechDetector().process(speech).isEmpty)
        // …but detected with a -50 threshold, and a short minSpeech/hangover shows in the times.
        let sensitive = SpeechDetector(.init(thresholdDBm0: -50, minSpeechMs: 60, hangoverMs: 100))
        let events = sensitive.process(speech)
        #expect(events.count == 2)
        if case let .started(onsetMs, confirmedMs)? = events.first {
            #expect(abs(onsetMs - 200) <= 10)
            #expect(abs(confirmedMs - 260) <= 20)
        }
        if events.count == 2, case let .stopped(atMs) = events[1] {
            #expect(atMs >= 600 && atMs <= 640)
        }
    }

    @Test func resetReturnsToSilenceAndRestartsTime() {
        let detector = SpeechDetector()
        _ = detector.process(Signals.speechLike(durationMs: 300, dBm0: -20))
        #expect(detector.isSpeaking)
        detector.reset()
        #expect(!detector.isSpeaking)
        let events = detector.process(silence(ms: 100) + Signals.speechLike(durationMs: 300, dBm0: -20))
        if case let .started(onsetMs, _)? = events.first {
            #expect(abs(onsetMs - 100) <= 10)
        } else {
            Issue.record("no start after reset: \(events)")
        }
    }
}

/// With the shipped defaults (200 ms minimum), a burst of line noise longer than the minimum does
/// not confirm: it is loud but never voiced. Real speech still does.
@Suite struct SpeechDetectorVoicingTests {
    static func fixture(_ name: String) throws -> [Int16] {
        let path = #filePath.replacingOccurrences(of: "Tests/VoiceBridgeAudioTests/SpeechDetectorTests.swift", with: "fixtures/inputs/\(name)")
        return try WAVFile.read(path: path).pcm16Samples
    }

    static func events(_ pcm: [Int16], _ configuration: SpeechDetectorConfiguration = .init()) -> [SpeechEvent] {
        let padded = [Int16](repeating: 0, count: 4000) + pcm + [Int16](repeating: 0, count: 8000)
        return SpeechDetector(configuration).process(padded)
    }

    @Test func theNoiseBlipFixtureDoesNotConfirmWithTheDefaults() throws {
        let noise = try Self.fixture("noise-blip-250ms.wav")
        #expect(Self.events(noise).isEmpty)
        // Without the voicing check it did: the defect this guards against.
        #expect(Self.events(noise, SpeechDetectorConfiguration(minVoicedFraction: 0)).first.map { if case .started = $0 { true } else { false } } == true)
    }

    @Test func theCallerSpeechFixtureStillConfirmsAtTheMinimum() throws {
        let speech = try Self.fixture("caller-speech-1s.wav")
        guard case let .started(onsetMs, confirmedMs)? = Self.events(speech).first else {
            Issue.record("speech did not confirm")
            return
        }
        #expect(onsetMs >= 500 && onsetMs <= 505)
        #expect(confirmedMs - onsetMs >= 200 && confirmedMs - onsetMs <= 220)
    }

    @Test func aLongerBurstOfWhiteNoiseNeverConfirms() {
        var rng = SplitMix64(seed: 11)
        let noise = (0..<8000).map { _ in Int16(truncatingIfNeeded: Int(rng.next() % 16000) - 8000) }
        #expect(Self.events(noise).isEmpty)
    }
}
