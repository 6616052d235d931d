import Testing
@testable import VoiceBridgeCalls

@Suite struct BargeInPolicyTests {
    let policy = BargeInPolicy(minSpeechMs: 200, echoGuardMs: 150)
    let ms: Int64 = 1_000_000

    @Test(arguments: Interruptible.allCases)
    func dtmfInterruptsOnlyWhenAllowed(_ mode: Interruptible) {
        let v = policy.evaluate(.dtmf("1"), interruptible: mode, playing: true, utteranceStartNanos: 0)
        #expect(v == (mode.allowsDTMF ? .accept : .reject(.notInterruptible)))
    }

    @Test(arguments: Interruptible.allCases)
    func speechInterruptsOnlyWhenAllowed(_ mode: Interruptible) {
        let v = policy.evaluate(.speech(onsetNanos: 1_000 * ms, durationMs: 200), interruptible: mode, playing: true, utteranceStartNanos: 0)
        #expect(v == (mode.allowsSpeech ? .accept : .reject(.notInterruptible)))
    }

    @Test func blipsAndEchoAreRejected() {
        #expect(policy.evaluate(.speech(onsetNanos: 1_000 * ms, durationMs: 100), interruptible: .any, playing: true, utteranceStartNanos: 0) == .reject(.tooShort))
        #expect(policy.evaluate(.speech(onsetNanos: 100 * ms, durationMs: 300), interruptible: .any, playing: true, utteranceStartNanos: 0) == .reject(.echoGuard))
        #expect(policy.evaluate(.speech(onsetNanos: 150 * ms, durationMs: 300), interruptible: .any, playing: true, utteranceStartNanos: 0) == .accept)
        // Speech already under way before we began talking is not our echo.
        #expect(policy.evaluate(.speech(onsetNanos: 0, durationMs: 300), interruptible: .any, playing: true, utteranceStartNanos: 50 * ms) == .accept)
    }

    @Test func nothingToInterruptWhenSilent() {
        #expect(policy.evaluate(.dtmf("5"), interruptible: .any, playing: false, utteranceStartNanos: nil) == .reject(.nothingPlaying))
    }
}

@Suite struct DTMFDeduplicatorTests {
    let ms: Int64 = 1_000_000

    @Test func samePressFromBothSourcesCountsOnce() {
        var d = DTMFDeduplicator(windowMs: 400)
        let verdicts = [d.accept("5", from: .inBand, at: 0), d.accept("5", from: .carrier, at: 120 * ms)]
        #expect(verdicts == [true, false])
    }

    @Test func quickDoublePressCountsTwice() {
        var d = DTMFDeduplicator(windowMs: 400)
        let verdicts = [
            d.accept("1", from: .carrier, at: 0), d.accept("1", from: .inBand, at: 10 * ms),
            d.accept("1", from: .carrier, at: 150 * ms), d.accept("1", from: .inBand, at: 160 * ms),
        ]
        #expect(verdicts == [true, false, true, false])
    }

    @Test func differentDigitsAndOldReportsAreNotDuplicates() {
        var d = DTMFDeduplicator(windowMs: 400)
        let verdicts = [d.accept("1", from: .carrier, at: 0), d.accept("2", from: .inBand, at: 50 * ms), d.accept("1", from: .inBand, at: 900 * ms)]
        #expect(verdicts == [true, true, true])
    }
}
