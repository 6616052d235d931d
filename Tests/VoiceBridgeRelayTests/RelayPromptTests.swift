import NIOCore
import Testing
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeCallTesting
import VoiceBridgeSpeech
@testable import VoiceBridgeRelay

/// The caller's words as ConversationRelay `prompt` messages (conversation-relay.md §3.2,
/// elevenlabs-stt.md §5.4), with speech-to-text as a test double on virtual time.
@Suite struct RelayPromptTests {
    static func info(_ name: String, _ value: String) -> String { RelayCodec.encode(.info(name: name, value: value)) }
    static func prompt(_ text: String, last: Bool, lang: String = "en-US") -> String {
        RelayCodec.encode(.prompt(voicePrompt: text, lang: lang, last: last))
    }
    var prompts: (RelayHarness) -> [String] = { $0.events.filter { $0.hasPrefix(#"{"type":"prompt""#) } }

    @Test func theSessionListensWithItsLanguageAndHintsAndAnnouncesIt() throws {
        let stt = FakeTranscription()
        let h = try RelayHarness(configure: {
            $0.events = [.voiceBridgeTurns]
            $0.language = "es-MX"
            $0.hints = ["VoiceBridge", "Acme"]
        }, transcription: stt)
        h.start()
        let transcriber = try #require(stt.current)
        #expect(transcriber.started && transcriber.format == .ulaw8000)
        #expect(transcriber.request == ListenRequest(languageCode: "es", keyterms: ["VoiceBridge", "Acme"]))
        #expect(h.sent[1] == #"{"type":"info","name":"x-voicebridge.capabilities","value":"stt=elevenlabs;tts=offline;vad=on"}"#)
        // Caller audio goes up untouched, frame by frame.
        h.caller([UInt8](repeating: 0xFE, count: 800))
        #expect(transcriber.audio == [UInt8](repeating: 0xFE, count: 800) && transcriber.frames == 5)
    }

    @Test func aTurnEndsWithOnePromptOfItsCommittedSegments() throws {
        let stt = FakeTranscription()
        let h = try RelayHarness(configure: { $0.events = [.speakerEvents] }, transcription: stt)
        h.start()
        let t = try #require(stt.current)
        h.caller(CallerSignal.speech(ms: 600))
        t.emit(.partial("pay my"))
        t.emit(.committed(ScribeCommit(text: "Pay my", timestamped: true)))  // an automatic commit mid-turn
        t.emit(.partial("bill"))
        #expect(prompts(h).isEmpty, "no partial prompts unless asked for")
        h.caller([UInt8](repeating: 0xFF, count: 8 * 800))
        // The detector ended the turn: the call committed; the final text closes the turn.
        #expect(t.commits.count == 1)
        #expect(prompts(h).isEmpty)
        t.emit(.committed(ScribeCommit(text: "bill.", timestamped: true)))
        #expect(prompts(h) == [Self.prompt("Pay my bill.", last: true)])
        let off = try #require(h.events.firstIndex(of: Self.info("clientSpeaking", "off")))
        #expect(h.events.firstIndex(of: Self.prompt("Pay my bill.", last: true))! > off)
    }

    @Test func partialPromptsAreCumulativeAndSentOnlyOnChange() throws {
        let stt = FakeTranscription()
        let h = try RelayHarness(configure: { $0.partialPrompts = true }, transcription: stt)
        h.start()
        let t = try #require(stt.current)
        h.caller(CallerSignal.speech(ms: 600))
        t.emit(.partial("I'd like"))
        t.emit(.partial("I'd like"))
        t.emit(.committed(ScribeCommit(text: "I'd like to move my appointment", timestamped: true)))
        t.emit(.partial("to Friday"))
        h.caller([UInt8](repeating: 0xFF, count: 8 * 800))
        t.emit(.committed(ScribeCommit(text: "to Friday.", timestamped: true)))
        #expect(prompts(h) == [
            Self.prompt("I'd like", last: false),
            Self.prompt("I'd like to move my appointment to Friday", last: false),
            Self.prompt("I'd like to move my appointment to Friday.", last: true),
        ])
    }

    @Test func aLateFinalTranscriptFallsBackToThePartialAndAnEmptyTurnSendsNothing() throws {
        let stt = FakeTranscription()
        let h = try RelayHarness(configure: { $0.finalTranscriptWaitMs = 5_000 }, transcription: stt)
        h.start()
        let t = try #require(stt.current)
        h.caller(CallerSignal.speech(ms: 600))
        t.emit(.partial("operator"))
        h.caller([UInt8](repeating: 0xFF, count: 8 * 800))
        h.advance(ms: 3_000)
        #expect(prompts(h).isEmpty)
        h.advance(ms: 2_000)
        #expect(prompts(h) == [Self.prompt("operator", last: true)])
        // A cough: the service hears nothing; never an empty prompt.
        h.caller(CallerSignal.speech(ms: 600))
        h.caller([UInt8](repeating: 0xFF, count: 8 * 800))
        t.emit(.committed(ScribeCommit(text: "", timestamped: true)))
        h.advance(ms: 6_000)
        #expect(prompts(h).count == 1)
    }

    @Test func speechDuringNonInterruptibleAgentSpeechIsReportedOnlyWhenConfigured() throws {
        for report in [Interruptible.none, .speech] {
            let stt = FakeTranscription()
            let h = try RelayHarness(configure: {
                $0.interruptible = .none
                $0.reportInputDuringAgentSpeech = report
            }, transcription: stt)
            h.start()
            let t = try #require(stt.current)
            h.transport.app(#"{"type":"text","token":"Please hold while I look that up for you.","last":true}"#)
            h.speak(turn: "1", text: "Please hold while I look that up for you.")
            h.advance(ms: 200)
            h.caller(CallerSignal.speech(ms: 600))
            h.caller([UInt8](repeating: 0xFF, count: 8 * 800))
            #expect(h.call.isPlaying, "the agent still speaks")
            t.emit(.committed(ScribeCommit(text: "Okay.", timestamped: true)))
            #expect(prompts(h) == (report == .none ? [] : [Self.prompt("Okay.", last: true)]), "\(report)")
        }
    }

    @Test func aNewTranscriptionLanguageIsANewSessionAndAFailureIsReportedOnce() throws {
        let stt = FakeTranscription()
        let h = try RelayHarness(transcription: stt)
        h.start()
        h.transport.app(#"{"type":"language","transcriptionLanguage":"fr-FR"}"#)
        #expect(stt.made.count == 2 && stt.made[0].stopped && stt.made[1].request.languageCode == "fr")
        stt.made[1].emit(.failed(ScribeError(.quota, "quota exceeded")))
        #expect(h.events.contains(RelayCodec.encode(.error(description: "speech-to-text unavailable: quota: quota exceeded"))))
        // The call stops listening: no more audio goes up.
        let before = stt.made[1].audio.count
        h.caller([UInt8](repeating: 0xFE, count: 800))
        #expect(stt.made[1].audio.count == before)
    }

    @Test func withoutSpeechToTextNoPromptIsEverSentAndCapabilitiesSayNone() throws {
        let h = try RelayHarness(configure: { $0.events = [.voiceBridgeTurns] })
        h.start()
        #expect(h.sent[1] == #"{"type":"info","name":"x-voicebridge.capabilities","value":"stt=none;tts=offline;vad=on"}"#)
        h.caller(CallerSignal.speech(ms: 600))
        h.caller([UInt8](repeating: 0xFF, count: 8 * 800))
        h.advance(ms: 2_000)
        #expect(prompts(h).isEmpty)
    }
}

@Suite struct RelayInterruptSensitivityTests {
    @Test(arguments: [
        ("low", false, BargeInPolicy.Evidence.words(minimum: 2)), ("medium", false, .words(minimum: 1)), ("high", false, .energy),
        ("high", true, .words(minimum: 1)),
    ])
    func sensitivityAndBackchannelSetTheCallsEvidence(sensitivity: String, ignore: Bool, expected: BargeInPolicy.Evidence) throws {
        let h = try RelayHarness(configure: {
            $0.interruptSensitivity = sensitivity
            $0.ignoreBackchannel = ignore
        }, transcription: FakeTranscription())
        h.start()
        #expect(h.call.bargeIn.evidence == expected)
        #expect(h.call.bargeIn.ignoreBackchannel == ignore)
    }

    @Test func withoutSpeechToTextTheServersPolicyStays() throws {
        let h = try RelayHarness(configure: { $0.interruptSensitivity = "low" })
        h.start()
        #expect(h.call.bargeIn.evidence == .energy)
    }
}

@Suite struct RelaySessionEndTests {
    @Test func anEndedSessionStopsListening() throws {
        let stt = FakeTranscription()
        let h = try RelayHarness(onEnd: true, transcription: stt)
        h.start()
        h.transport.app(#"{"type":"end","handoffData":"{}"}"#)
        #expect(stt.current?.stopped == true)
    }
}
