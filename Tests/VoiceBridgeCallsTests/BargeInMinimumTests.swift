import Testing
import VoiceBridgeCallTesting
import VoiceBridgeAudio
import VoiceBridgeCarriers
@testable import VoiceBridgeCalls

/// A barge-in minimum above the detector's: speech is judged once it has been voiced that long,
/// not at the detector's first word (when it could only ever be "too short").
@Suite struct BargeInMinimumTests {
    static func harness() -> CallHarness {
        var configuration = CallConfiguration()
        configuration.bargeIn = BargeInPolicy(minSpeechMs: 400, echoGuardMs: 150)
        let h = CallHarness(configuration: configuration)
        h.flow.onStart = { $0.play(.text("Greeting."), id: "g", interruptible: .any) }
        h.start()
        h.speak(turn: "1", ms: 10_000, last: false)
        h.silence(ms: 1_000)
        return h
    }

    @Test func speechLongerThanThePolicyMinimumBargesInOnceItHasLastedIt() {
        let h = Self.harness()
        let onset = h.now
        h.caller(CallerSignal.speech(ms: 700))
        #expect(h.sink.clears.count == 1)
        let latency = h.sink.clears[0] - onset
        #expect(latency >= Int64(400 - 20) * h.ms && latency <= Int64(400 + 40) * h.ms, "cleared \(latency / h.ms) ms after onset")
        #expect(h.flow.events.filter { if case .callerSpeechStarted = $0 { true } else { false } } == [.callerSpeechStarted(interrupted: true)])
        #expect(h.observer.bargeIns.map(\.1) == [true])
    }

    @Test func aBurstShorterThanThePolicyMinimumIsRejectedAndTheFlowHearsNothing() {
        let h = Self.harness()
        h.caller(CallerSignal.speech(ms: 300))
        h.silence(ms: 1_000)
        #expect(h.sink.clears.isEmpty)
        #expect(h.observer.bargeIns.map(\.2) == [BargeInPolicy.Reason.tooShort.rawValue])
        #expect(!h.flow.events.contains { if case .callerSpeechStarted = $0 { true } else { false } })
        #expect(!h.flow.events.contains { if case .callerSpeechStopped = $0 { true } else { false } })
    }

    @Test func withNothingPlayingTheFlowHearsSpeechAtTheDetectorsMinimum() {
        var configuration = CallConfiguration()
        configuration.bargeIn = BargeInPolicy(minSpeechMs: 400, echoGuardMs: 150)
        let h = CallHarness(configuration: configuration)
        h.start()
        h.caller(CallerSignal.speech(ms: 300))
        #expect(h.flow.events.contains(.callerSpeechStarted(interrupted: false)))
        h.silence(ms: 1_000)
        #expect(h.flow.events.contains { if case .callerSpeechStopped = $0 { true } else { false } })
    }
}
