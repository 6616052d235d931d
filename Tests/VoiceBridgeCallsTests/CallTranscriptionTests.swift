import NIOCore
import Testing
import VoiceBridgeAudio
import VoiceBridgeCallTesting
import VoiceBridgeCarriers
import VoiceBridgeSpeech
@testable import VoiceBridgeCalls

/// The call's side of hearing the caller: audio goes up only while a flow listens, in the form
/// speech-to-text takes; the call's own detector commits each turn; transcripts reach the flow
/// on the call's loop; nothing is left open when the call ends.
@Suite struct CallTranscriptionTests {
    @Test func nothingGoesUpUntilAFlowListensAndStopsWhenItStops() throws {
        let stt = FakeTranscription()
        let h = CallHarness(transcription: stt)
        h.start()
        h.silence(ms: 100)
        #expect(stt.made.isEmpty, "no socket for a call nobody listens to")
        #expect(h.call.listen(ListenRequest(languageCode: "en")))
        let t = try #require(stt.current)
        #expect(t.started && t.format == .ulaw8000)
        h.caller([UInt8](repeating: 0xFE, count: 480))
        #expect(t.audio == [UInt8](repeating: 0xFE, count: 480))
        // The same request again is the same session; another is a new one.
        h.call.listen(ListenRequest(languageCode: "en"))
        #expect(stt.made.count == 1)
        h.call.listen(ListenRequest(languageCode: "en", keyterms: ["billing"]))
        #expect(stt.made.count == 2 && t.stopped)
        h.call.stopListening()
        #expect(stt.made[1].stopped)
        h.silence(ms: 100)
        #expect(stt.made[1].audio.isEmpty)
    }

    @Test func theCallsDetectorCommitsTheTurnAndTranscriptsReachTheFlow() throws {
        let stt = FakeTranscription()
        let h = CallHarness(transcription: stt)
        h.flow.onStart = { $0.listen(ListenRequest()) }
        h.start()
        let t = try #require(stt.current)
        h.caller(CallerSignal.speech(ms: 600))
        #expect(t.commits.isEmpty)
        h.silence(ms: 800)
        #expect(t.commits.count == 1)
        t.emit(.partial("pay my bill"))
        t.emit(.committed(ScribeCommit(text: "Pay my bill.")))
        t.emit(.commitIgnored)
        let heard = h.flow.events.compactMap { if case let .transcript(x) = $0 { x } else { nil } }
        #expect(heard == [.partial("pay my bill"), .committed(ScribeCommit(text: "Pay my bill.")), .commitIgnored])
        let stopped = try #require(h.flow.events.firstIndex { if case .callerSpeechStopped = $0 { true } else { false } })
        let partial = try #require(h.flow.events.firstIndex(of: .transcript(.partial("pay my bill"))))
        #expect(stopped < partial)
    }

    /// ConversationRelay's `speechTimeout`: the silence that ends a turn, while the call listens.
    @Test func aListenersSpeechTimeoutSetsTheSilenceThatEndsTheTurn() throws {
        let stt = FakeTranscription()
        let h = CallHarness(transcription: stt)
        h.flow.onStart = { $0.listen(ListenRequest(endOfSpeechSilenceMs: 1_200)) }
        h.start()
        let t = try #require(stt.current)
        h.caller(CallerSignal.speech(ms: 600))
        h.silence(ms: 800)
        #expect(t.commits.isEmpty, "800 ms of silence is not yet the 1.2 s that ends the turn")
        h.silence(ms: 600)
        #expect(t.commits.count == 1)
        // Not listening any more: the configured hangover (400 ms) ends speech again.
        h.call.stopListening()
        let stops = { h.flow.events.filter { if case .callerSpeechStopped = $0 { true } else { false } }.count }
        let before = stops()
        h.caller(CallerSignal.speech(ms: 600))
        h.silence(ms: 600)
        #expect(stops() == before + 1)
    }

    @Test func aFailedServiceIsReportedOnceAndTheCallGoesOnDeaf() throws {
        let stt = FakeTranscription()
        let h = CallHarness(transcription: stt)
        h.flow.onStart = { $0.listen(ListenRequest()) }
        h.start()
        let t = try #require(stt.current)
        t.emit(.trouble(ScribeError(.connection, "dropped")))
        t.emit(.failed(ScribeError(.auth, "bad key")))
        t.emit(.partial("late"))
        let heard = h.flow.events.compactMap { if case let .transcript(x) = $0 { x } else { nil } }
        #expect(heard == [.unavailable("auth: bad key")])
        h.silence(ms: 100)
        #expect(t.audio.isEmpty)
        // The next menu that listens does not try again: one failure per call.
        #expect(!h.call.listen(ListenRequest(languageCode: "en")))
        #expect(stt.made.count == 1)
        // A DTMF key still works.
        h.dtmf("5")
        #expect(h.flow.events.contains(.digit("5", interrupted: false)))
    }

    @Test func theCallEndingStopsTheSession() throws {
        let stt = FakeTranscription()
        let h = CallHarness(transcription: stt)
        h.flow.onStart = { $0.listen(ListenRequest()) }
        h.start()
        h.call.end(.carrierStop)
        #expect(stt.current?.stopped == true)
        #expect(!h.call.listen(ListenRequest()), "a call that is over can't listen")
    }

    @Test(arguments: [
        (MediaFormat.alaw8kMono, ScribeSettings.AudioFormat.ulaw8000), (MediaFormat.l16LittleEndian(8000), .pcm8000),
        (MediaFormat(encoding: .l16(.bigEndian), sampleRate: 16000), .pcm16000), (MediaFormat.l16LittleEndian(16000), .pcm16000),
    ])
    func eachCarrierFormatGoesUpAsTheServiceTakesIt(format: MediaFormat, expected: ScribeSettings.AudioFormat) throws {
        let stt = FakeTranscription()
        let h = CallHarness(transcription: stt)
        h.flow.onStart = { $0.listen(ListenRequest()) }
        h.start(format: format)
        let t = try #require(stt.current)
        #expect(t.format == expected)
        let samples: [Int16] = (0..<(format.sampleRate / 50)).map { Int16(truncatingIfNeeded: $0 * 97 - 4000) }
        let frame: [UInt8]
        switch format.encoding {
        case .alaw: frame = G711.encode(samples, law: .alaw)
        case .l16(.bigEndian): frame = samples.flatMap { [UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)] }
        default: frame = samples.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        }
        h.callerFrame(frame)
        switch expected {
        case .ulaw8000:
            // A-law to μ-law by table: the same sound within G.711's own rounding.
            let back = G711.decode(t.audio, law: .ulaw)
            let original = G711.decode(frame, law: .alaw)
            #expect(zip(back, original).allSatisfy { abs(Int($0) - Int($1)) <= max(16, abs(Int($1)) / 16) })
        default:
            #expect(t.audio == samples.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] })
        }
    }
}

/// Barge-in by words: with `evidence: .words`, a cough or line noise never interrupts a prompt;
/// the caller's words do.
@Suite struct BargeInByWordsTests {
    func harness(_ policy: BargeInPolicy, stt: FakeTranscription?) -> CallHarness {
        var configuration = CallConfiguration()
        configuration.bargeIn = policy
        let h = CallHarness(configuration: configuration, transcription: stt)
        h.flow.onStart = {
            $0.listen(ListenRequest())
            $0.play(.text("A long prompt about many things."), id: "p", interruptible: .any)
        }
        h.start()
        h.speak(turn: "1", ms: 5_000)
        h.advance(ms: 400)
        return h
    }

    @Test func energyAloneDoesNotInterruptButTwoWordsDo() throws {
        let stt = FakeTranscription()
        let h = harness(BargeInPolicy(evidence: .words(minimum: 2)), stt: stt)
        h.caller(CallerSignal.speech(ms: 600))
        #expect(h.sink.clears.isEmpty, "the detector's onset waits for words")
        #expect(h.flow.events.contains(.callerSpeechStarted(interrupted: false)))
        let t = try #require(stt.current)
        t.emit(.partial("wait"))
        #expect(h.sink.clears.isEmpty)
        t.emit(.partial("wait a"))
        #expect(h.sink.clears.count == 1)
        #expect(h.flow.events.contains { if case .promptInterrupted("p", _) = $0 { true } else { false } })
        #expect(h.observer.bargeIns.contains { $0.1 && $0.2 == "accepted" })
    }

    @Test func acknowledgementsNeverInterruptWhenIgnored() throws {
        let stt = FakeTranscription()
        let h = harness(BargeInPolicy(evidence: .words(minimum: 1), ignoreBackchannel: true), stt: stt)
        let t = try #require(stt.current)
        t.emit(.partial("uh-huh"))
        t.emit(.committed(ScribeCommit(text: "Okay, right.")))
        #expect(h.sink.clears.isEmpty)
        #expect(h.observer.bargeIns.filter { $0.2 == BargeInPolicy.Reason.backchannel.rawValue }.count == 2)
        t.emit(.partial("okay but what about my order"))
        #expect(h.sink.clears.count == 1)
    }

    @Test func aCallNobodyTranscribesFallsBackToEnergy() {
        let h = harness(BargeInPolicy(evidence: .words(minimum: 2)), stt: nil)
        h.caller(CallerSignal.speech(ms: 600))
        #expect(h.sink.clears.count == 1)
    }

    @Test func thePolicyIsPure() {
        let p = BargeInPolicy(evidence: .words(minimum: 2), ignoreBackchannel: true)
        #expect(p.evaluate(.words(["stop", "please"]), interruptible: .any, playing: true, utteranceStartNanos: nil) == .accept)
        #expect(p.evaluate(.words(["stop"]), interruptible: .any, playing: true, utteranceStartNanos: nil) == .reject(.tooFewWords))
        #expect(p.evaluate(.words(["uh", "huh"]), interruptible: .any, playing: true, utteranceStartNanos: nil) == .reject(.backchannel))
        #expect(p.evaluate(.words(["stop", "please"]), interruptible: .dtmf, playing: true, utteranceStartNanos: nil) == .reject(.notInterruptible))
        #expect(p.evaluate(.speech(onsetNanos: 0, durationMs: 500), interruptible: .any, playing: true, utteranceStartNanos: nil, transcribing: true)
            == .reject(.awaitingWords))
        #expect(p.evaluate(.speech(onsetNanos: 0, durationMs: 500), interruptible: .any, playing: true, utteranceStartNanos: nil) == .accept)
        #expect(SpokenWords.words("Uh-huh, I'd say ONE") == ["uh", "huh", "id", "say", "1"])
        #expect(SpokenWords.isBackchannel(SpokenWords.words("Mm-hmm.")) && !SpokenWords.isBackchannel(SpokenWords.words("yes stop")))
    }
}
