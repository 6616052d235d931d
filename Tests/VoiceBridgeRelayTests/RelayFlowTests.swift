import NIOCore
import Synchronization
import Testing
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeCallTesting
import VoiceBridgeCarriers
@testable import VoiceBridgeRelay

/// RelayFlow driving a real `Call` on virtual time (EmbeddedEventLoop), with scripted speech and
/// the app's socket as a test double.
@Suite struct RelayFlowTests {
    static func info(_ name: String, _ value: String) -> String { RelayCodec.encode(.info(name: name, value: value)) }

    @Test func setupGoesFirstWithTheCallsFieldsAndNothingIsLostWhileConnecting() throws {
        let h = try RelayHarness(configure: {
            $0.welcomeGreeting = "Hi there"
            $0.customParameters = ["tenant": "acme"]
        }, holdConnection: true)
        h.start()
        // The greeting starts at once, before the app answers; its events wait for setup.
        h.speak(turn: "1", text: "Hi there")
        h.advance(ms: 100)
        h.dtmf("5")  // held while the socket opens
        #expect(h.sent.isEmpty)
        h.connector.open()
        let setup = try #require(h.sent.first)
        #expect(setup == """
            {"type":"setup","sessionId":"\(h.flow.sessionId)","accountSid":"AC00000000000000000000000000000001",\
            "callSid":"CA00000000000000000000000000000001","parentCallSid":"","from":"+15550001111","to":"+15550002222",\
            "forwardedFrom":"+15550002222","callerName":"Ada","direction":"inbound","callType":"PSTN","callStatus":"RINGING",\
            "customParameters":{"tenant":"acme"}}
            """)
        #expect(h.flow.sessionId.count == 34 && h.flow.sessionId.hasPrefix("VX"))
        // The held key barges in on the greeting once input resumes: reported after setup.
        #expect(Array(h.sent.dropFirst()) == [
            Self.info("agentSpeaking", "on"),
            Self.info("tokensPlayed", "Hi"),
            RelayCodec.encode(.interrupt(utteranceUntilInterrupt: "Hi", durationUntilInterruptMs: 100)),
            Self.info("agentSpeaking", "off"),
            RelayCodec.encode(.dtmf(digit: "5")),
        ])
    }

    @Test func tokensStreamIntoOneTurnAndTheCycleIsReportedOnceHeard() throws {
        let h = try RelayHarness()
        h.start()
        h.transport.app(#"{"type":"text","token":"Hello","last":false}"#)
        h.transport.app(#"{"type":"text","token":" world."}"#)
        let turn = try #require(h.speech.turn("1"))
        #expect(turn.text == "Hello world." && !turn.finished)
        h.transport.app(#"{"type":"text","token":"","last":true}"#)
        #expect(turn.finished)
        h.speak(turn: "1", text: "Hello world.")
        h.advance(ms: 1000)
        #expect(h.sink.marks == ["1.1"])
        #expect(h.events == [Self.info("agentSpeaking", "on")])
        h.echo("1.1")
        #expect(h.events == [Self.info("agentSpeaking", "on"), Self.info("tokensPlayed", "Hello world."), Self.info("agentSpeaking", "off")])
        #expect(!h.sent.contains { $0.contains(#""type":"prompt""#) }, "never a prompt")
    }

    @Test func speechBargeInSendsTheHeardTextThenDropsTheStaleCycle() throws {
        let h = try RelayHarness()
        h.start()
        h.transport.app(#"{"type":"text","token":"Sentence one of twelve, "}"#)
        h.speak(turn: "1", text: "Sentence one of twelve, ", last: false)
        h.advance(ms: 400)
        h.caller(CallerSignal.speech(ms: 400))
        #expect(h.sink.clears.count == 1)
        let events = h.events
        let interrupt = try #require(events.first { $0.hasPrefix(#"{"type":"interrupt""#) })
        let i = try #require(events.firstIndex(of: interrupt))
        #expect(events[i - 2] == Self.info("clientSpeaking", "on"))
        #expect(events[i + 1] == Self.info("agentSpeaking", "off"))
        // The heard text, from the alignment at the playout position of the clear.
        let heard = "Sentence one of twelve, "
        let tokens = events[i - 1]
        #expect(tokens.hasPrefix(#"{"type":"info","name":"tokensPlayed","value":"Sentence"#))
        let utterance = String(tokens.dropFirst(#"{"type":"info","name":"tokensPlayed","value":""#.count).dropLast(2))
        #expect(heard.hasPrefix(utterance))
        // ~50 ms per character: the duration and the text agree.
        let ms = Int(interrupt.split(separator: ":").last!.dropLast())!
        #expect(utterance.count == (ms + 49) / 50)
        #expect(interrupt == RelayCodec.encode(.interrupt(utteranceUntilInterrupt: utterance, durationUntilInterruptMs: ms)))

        // Late audio of the interrupted turn never plays.
        let media = h.sink.mediaBytes.count
        h.speak(turn: "1", text: "more audio")
        h.advance(ms: 500)
        #expect(h.sink.mediaBytes.count == media)
        // The rest of the stale cycle is dropped; after its last, a new cycle speaks.
        h.transport.app(#"{"type":"text","token":"Sentence two."}"#)
        h.transport.app(#"{"type":"text","token":"","last":true}"#)
        #expect(h.speech.turn("2") == nil)
        h.transport.app(#"{"type":"text","token":"Okay.","last":true}"#)
        #expect(h.speech.turn("2")?.text == "Okay.")
    }

    @Test func digitsJoinTheSameQueueBetweenSpeechAndAreEchoed() throws {
        let h = try RelayHarness()
        h.start()
        h.transport.app(#"{"type":"text","token":"Hi.","last":true}"#)
        h.transport.app(#"{"type":"sendDigits","digits":"1w2"}"#)
        h.transport.app(#"{"type":"text","token":"Bye.","last":true}"#)
        h.speak(turn: "1", text: "Hi.")
        h.speak(turn: "3", text: "Bye.")
        h.advance(ms: 3000)
        #expect(h.sink.marks == ["1.1", "2.1", "3.1"])
        let pcm = G711.decode(h.sink.mediaBytes, law: .ulaw)
        let digits = DTMFDetector().process(pcm)
        #expect(digits.map(\.digit) == ["1", "2"])
        // Hi. (150 ms, one padded frame: 160 ms) first, then 1, a 500 ms pause, 2, then Bye.
        #expect(abs(digits[0].startMs - 160) <= 20)
        #expect(abs(digits[1].startMs - (160 + 200 + 500)) <= 20)
        #expect(Array(h.sink.mediaBytes.suffix(200)).allSatisfy { $0 == 0x55 || $0 == 0xFF })
        for mark in ["1.1", "2.1", "3.1"] { h.echo(mark) }
        #expect(h.events == [
            Self.info("agentSpeaking", "on"), Self.info("tokensPlayed", "Hi."), Self.info("tokensPlayed", "1w2"),
            Self.info("tokensPlayed", "Bye."), Self.info("agentSpeaking", "off"),
        ])
    }

    @Test func invalidMessagesGetErrorsAndTheTenthInARowClosesWith1007() throws {
        let h = try RelayHarness()
        h.start()
        for _ in 1...9 { h.transport.app(#"{"type":"speak"}"#) }
        h.transport.app(#"{"type":"language","ttsLanguage":"es-ES"}"#)
        #expect(h.flow.ttsLanguage == "es-ES")
        for _ in 1...9 { h.transport.app(#"{"type":"text"}"#) }
        #expect(h.transport.closed == nil)
        h.transport.app("not json")
        #expect(h.events.count == 19)
        #expect(h.events.first == RelayCodec.encode(.error(description: #"Invalid message received, code: 64107, {"type":"speak"}"#)))
        #expect(h.events.last == RelayCodec.encode(.error(description: "Invalid message received, code: 64107, not json")))
        #expect(h.transport.closed?.code == 1007)
        #expect(h.transport.closed?.reason == "Too many consecutive malformed messages.")
        #expect(h.flow.result?.status == .failed && h.flow.result?.errorCode == 64105)
        #expect(h.sink.closed == [.hangUp], "the default end action")
    }

    @Test func endClosesTheAppAtOnceButTheCallOnlyAfterTheLastMark() throws {
        let h = try RelayHarness()
        h.start()
        h.transport.app(#"{"type":"text","token":"Goodbye.","last":true}"#)
        h.transport.app(#"{"type":"end","handoffData":"{\"reason\":\"done\"}"}"#)
        #expect(h.transport.closed?.code == 1000)
        #expect(h.flow.result == RelaySessionResult(sessionId: h.flow.sessionId, status: .ended, durationSeconds: 0, handoffData: #"{"reason":"done"}"#))
        h.speak(turn: "1", text: "Goodbye.")
        h.advance(ms: 2000)
        #expect(h.sink.marks == ["1.1"])
        #expect(h.sink.closed.isEmpty, "the goodbye's mark is not back yet")
        h.echo("1.1")
        #expect(h.sink.closed == [.hangUp])
    }

    @Test func anEndHandlerTakesOverInsteadOfTheDefault() throws {
        let h = try RelayHarness(configure: { $0.endAction = .redirect }, onEnd: true)
        h.start()
        h.transport.app(#"{"type":"end"}"#)
        #expect(h.results.map(\.status) == [.ended])
        #expect(h.sink.closed.isEmpty)
    }

    @Test func anUnreachableAppFailsWith64102AndHangsUp() throws {
        let h = try RelayHarness(configure: { $0.endAction = .redirect })
        h.connector.fail = RelayConnectError.connectFailed("refused")
        h.start()
        #expect(h.flow.result?.status == .failed && h.flow.result?.errorCode == 64102)
        #expect(h.sink.closed == [.redirect])
    }

    @Test func anUnreachableAppIsAnApologyThenAHangUpNotSilence() throws {
        let h = try RelayHarness(configure: { $0.failureMessage = "Sorry, we cannot continue. Goodbye." })
        h.connector.fail = RelayConnectError.connectFailed("refused")
        h.start()
        #expect(h.flow.result?.errorCode == 64102)
        #expect(h.speech.turns.withLock { $0.map(\.text) } == ["Sorry, we cannot continue. Goodbye."])
        // The hang-up waits for the apology to be heard: the call is not closed yet.
        #expect(h.sink.closed.isEmpty)
    }

    @Test func theAppDroppingTheSocketFailsWith64105() throws {
        let h = try RelayHarness(onEnd: true)
        h.start()
        h.transport.onEvent?(.closed(code: 1006, reason: "gone"))
        #expect(h.results.first?.status == .failed && h.results.first?.errorCode == 64105)
    }

    @Test func aNewCycleCutsAPreemptibleOneWithoutAnInterrupt() throws {
        let h = try RelayHarness()
        h.start()
        h.transport.app(#"{"type":"text","token":"Please hold while I check.","last":true,"preemptible":true}"#)
        h.speak(turn: "1", text: "Please hold while I check.")
        h.advance(ms: 300)
        h.transport.app(#"{"type":"text","token":"Found it.","last":true}"#)
        #expect(h.sink.clears.count == 1)
        #expect(h.events == [Self.info("agentSpeaking", "on"), Self.info("tokensPlayed", "Please")])
        #expect(h.speech.turn("2")?.text == "Found it.")
        h.speak(turn: "2", text: "Found it.")
        h.advance(ms: 1000)
        h.echo("1.1")
        h.echo("2.1")
        #expect(h.events.suffix(2) == [Self.info("tokensPlayed", "Found it."), Self.info("agentSpeaking", "off")])
        #expect(!h.events.contains { $0.contains("interrupt") })
    }

    @Test func aNonPreemptibleCycleQueuesTheNextBehindIt() throws {
        let h = try RelayHarness()
        h.start()
        h.transport.app(#"{"type":"text","token":"First.","last":true}"#)
        h.speak(turn: "1", text: "First.")
        h.advance(ms: 100)
        h.transport.app(#"{"type":"text","token":"Second.","last":true,"preemptible":true}"#)
        #expect(h.sink.clears.isEmpty)
        #expect(h.speech.turn("2")?.text == "Second.")
    }

    @Test func theCallerHangingUpClosesTheAppSocketAsCompleted() throws {
        let h = try RelayHarness(onEnd: true)
        h.start()
        h.call.receive(.stop(StreamStop(sequenceNumber: 9, accountID: "AC00000000000000000000000000000001", callID: "CA00000000000000000000000000000001")))
        #expect(h.transport.closed?.code == 1000 && h.transport.closed?.reason == "Closing websocket session")
        #expect(h.results.map(\.status) == [.completed])
    }

    @Test func voiceActivityBecomesClientSpeakingAndTheExtensionEventsWhenEnabled() throws {
        let h = try RelayHarness(configure: { $0.events = [.speakerEvents, .voiceBridgeTurns] })
        h.start()
        #expect(h.sent[1] == #"{"type":"info","name":"x-voicebridge.capabilities","value":"stt=none;tts=offline;vad=on"}"#)
        h.caller(CallerSignal.speech(ms: 600))
        h.caller([UInt8](repeating: 0xFF, count: 8 * 800))
        let events = Array(h.sent.dropFirst(2))
        #expect(events.count == 3)
        #expect(events.prefix(2) == [Self.info("clientSpeaking", "on"), Self.info("clientSpeaking", "off")])
        #expect(events[2].hasPrefix(#"{"type":"info","name":"x-voicebridge.callerTurn","value":"end","durationMs":"#))
        #expect(events[2].hasSuffix(#","interruptedAgent":false}"#))
    }

    @Test func extensionEventsStayOffUnlessEnabledAndUnsubscribedInfoIsNotSent() throws {
        let h = try RelayHarness(configure: { $0.events = [] })
        h.start()
        h.caller(CallerSignal.speech(ms: 600))
        h.caller([UInt8](repeating: 0xFF, count: 8 * 800))
        h.transport.app(#"{"type":"text","token":"Hi.","last":true}"#)
        h.speak(turn: "1", text: "Hi.")
        h.advance(ms: 500)
        h.echo("1.1")
        #expect(h.sent.count == 1, "only setup: \(h.sent)")
    }

    @Test func playQueuesABuiltPromptAndAnUnknownOneIsAnError() throws {
        let audio = [UInt8](repeating: 0x33, count: 800)
        let h = try RelayHarness(prompts: { $0 == "welcome" ? audio : nil })
        h.start()
        h.transport.app(#"{"type":"play","source":"welcome","loop":2}"#)
        h.transport.app(#"{"type":"play","source":"nope"}"#)
        h.advance(ms: 1000)
        #expect(h.sink.mediaBytes == audio + audio)
        #expect(h.events.contains(RelayCodec.encode(.error(description: #"Invalid message received, code: 64107, {"type":"play","source":"nope"}"#))))
    }

    @Test func keysAreReportedOnlyWhenDetectionIsOnAndRespectReportInput() throws {
        let off = try RelayHarness(configure: { $0.dtmfDetection = false; $0.events = [] })
        off.start()
        off.dtmf("1")
        #expect(off.sent.count == 1)

        let h = try RelayHarness(configure: { $0.interruptible = .speech; $0.events = [] })
        h.start()
        h.transport.app(#"{"type":"text","token":"Listen to this.","last":true}"#)
        h.speak(turn: "1", text: "Listen to this.")
        h.advance(ms: 100)
        h.dtmf("4")  // not interruptible by keys, not reported during agent speech
        #expect(h.sent.count == 1)
        h.advance(ms: 1000)
        h.echo("1.1")
        h.dtmf("4")
        #expect(h.sent.last == RelayCodec.encode(.dtmf(digit: "4")))
    }
}
