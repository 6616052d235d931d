import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import VoiceBridgeAudio
import VoiceBridgeCalls
@testable import VoiceBridgeFlows

@Suite struct DeclarativeFlowTests {
    static let menu = """
    start: menu
    variables: { team: billing }
    blocks:
      menu:
        - menu:
            prompt:
              - say: "Press 1 for {{team}}, 2 for hours."
            choices:
              "1": billing
              "2":
                - say: "We are open nine to five."
            timeout: 5s
            retries: 2
            noinput:
              - say: "I did not hear anything."
            nomatch:
              - say: "That is not an option."
            exhausted: bye
        - say: "Back after the choice."
        - hangup
      billing:
        - say: "Billing, {{From}}."
        - redirect: { dial: "+15550009999" }
      bye:
        - say: Goodbye.
        - hangup
    """

    @Test func aMenuChoiceByDTMFRunsItsBlockAndTransfers() throws {
        let h = try FlowHarness(yaml: Self.menu)
        h.start()
        h.wait(ms: 500)
        h.press("1")
        h.wait(ms: 3_000)
        #expect(h.spoken == ["Press 1 for billing, 2 for hours.", "Billing, +15550001111."])
        #expect(h.transfers.map(\.1) == [.dial("+15550009999")])
        #expect(h.transfers.first?.0 == "CA00000000000000000000000000000001")
        // The key barged in on the prompt: the carrier's buffer was cleared.
        #expect(h.carrier.clears == 1)
        #expect(h.carrier.closed.map(\.0) == [.redirect])
    }

    @Test func anInlineChoiceGoesOnAfterTheMenu() throws {
        let h = try FlowHarness(yaml: Self.menu)
        h.start()
        h.wait(ms: 6_000)  // the prompt (3.4 s) is heard in full
        h.press("2")
        h.wait(ms: 5_000)
        #expect(h.spoken == ["Press 1 for billing, 2 for hours.", "We are open nine to five.", "Back after the choice."])
        #expect(h.carrier.closed.map(\.0) == [.hangUp])
        #expect(h.carrier.clears == 0)
    }

    @Test func noInputRepromptsAfterThePromptIsHeardAndThenGivesUp() throws {
        let h = try FlowHarness(yaml: Self.menu)
        h.start()
        // The prompt is 34 characters = 2.72 s of audio: the 5 s timeout starts after it.
        h.wait(ms: 7_600)
        #expect(h.spoken.count == 1)
        h.wait(ms: 400)
        #expect(h.spoken == ["Press 1 for billing, 2 for hours.", "I did not hear anything.", "Press 1 for billing, 2 for hours."])
        h.wait(ms: 30_000)
        #expect(h.spoken == [
            "Press 1 for billing, 2 for hours.", "I did not hear anything.", "Press 1 for billing, 2 for hours.",
            "I did not hear anything.", "Press 1 for billing, 2 for hours.", "Goodbye.",
        ])
        #expect(h.ended)
        #expect(h.carrier.closed.map(\.0) == [.hangUp])
    }

    @Test func aWrongKeyIsANoMatch() throws {
        let h = try FlowHarness(yaml: Self.menu)
        h.start()
        h.wait(ms: 3_000)
        h.press("7")
        h.wait(ms: 100)
        #expect(h.spoken == ["Press 1 for billing, 2 for hours.", "That is not an option.", "Press 1 for billing, 2 for hours."])
    }

    @Test func theHangUpWaitsForTheGoodbyesMark() throws {
        let h = try FlowHarness(yaml: """
        blocks:
          main:
            - say: { text: "Thank you for calling. Goodbye.", interruptible: none }
            - hangup
        """)
        h.start()
        h.wait(ms: 1_000)
        #expect(!h.ended)
        #expect(h.carrier.closed.isEmpty)
        h.wait(ms: 2_000)  // 31 characters = 2.48 s of audio, then its mark echoes
        #expect(h.ended)
        let lastFrame = h.carrier.sent.last { if case .media = $0 { true } else { false } }
        guard case let .media(lastAt)? = lastFrame, let closedAt = h.carrier.closed.first?.1 else {
            Issue.record("no frames or no close")
            return
        }
        // Closed only after the carrier had played the last frame (its mark came back).
        #expect(closedAt >= lastAt + 20_000_000)
        #expect(h.carrier.echoed == ["1.1"])
    }

    static let gather = """
    blocks:
      main:
        - gather:
            prompt: { say: "Enter your PIN." }
            into: pin
            min: 4
            max: 6
            finishOnKey: "#"
            timeout: 4s
            interDigitTimeout: 2s
            retries: 1
            reprompt: { say: "That PIN is too short." }
            speech: true
        - say: "PIN {{pin|digits}}."
        - hangup
    """

    @Test func gatherEndsOnTheFinishKey() throws {
        let h = try FlowHarness(yaml: Self.gather)
        h.start()
        h.wait(ms: 2_000)
        h.press("12345#")
        h.wait(ms: 100)
        #expect(h.spoken == ["Enter your PIN.", "PIN 1 2 3 4 5."])
        #expect(h.flow.variables["pin"] == "12345")
    }

    @Test func gatherEndsAtMaxDigitsAndAfterTheInterDigitTimeout() throws {
        let h = try FlowHarness(yaml: Self.gather)
        h.start()
        h.press("123456")
        h.wait(ms: 100)
        #expect(h.flow.variables["pin"] == "123456")

        let g = try FlowHarness(yaml: Self.gather)
        g.start()
        g.wait(ms: 1_500)
        g.press("1234")
        g.wait(ms: 1_600)
        #expect(g.flow.variables["pin"] == nil)
        g.wait(ms: 400)
        #expect(g.flow.variables["pin"] == "1234")
    }

    @Test func tooFewDigitsReprompt() throws {
        let h = try FlowHarness(yaml: Self.gather)
        h.start()
        h.wait(ms: 1_500)
        h.press("12#")
        #expect(h.spoken == ["Enter your PIN.", "That PIN is too short.", "Enter your PIN."])
        h.wait(ms: 4_000)
        h.press("9876#")
        #expect(h.flow.variables["pin"] == "9876")
    }

    @Test func callerSpeechAnswersAGatherThatAcceptsIt() throws {
        var configuration = CallConfiguration()
        configuration.bargeIn = BargeInPolicy(minSpeechMs: 200, echoGuardMs: 0)
        let h = try FlowHarness(yaml: Self.gather, configuration: configuration)
        h.start()
        h.wait(ms: 1_500)
        h.talk(ms: 600)
        #expect(h.flow.variables["pin"] == "speech")
    }

    @Test func bargeInBySpeechDuringASayClearsAndTheFlowGoesOn() throws {
        let h = try FlowHarness(yaml: """
        blocks:
          main:
            - menu:
                prompt: { say: "This is a rather long menu prompt that the caller will talk over before it ends." }
                choices: { "1": main }
                timeout: 3s
                retries: 0
                exhausted: [ { say: "Bye." }, hangup ]
        """)
        h.start()
        h.wait(ms: 1_000)
        h.talk(ms: 500)
        #expect(h.carrier.clears == 1)
        let framesAtClear = h.carrier.frames.count
        // The menu's timeout starts at once: the prompt was cut, so it was "heard".
        h.wait(ms: 3_000)
        #expect(h.spoken.last == "Bye.")
        let after = h.carrier.frames[framesAtClear...]
        // Nothing of the interrupted prompt plays after the clear.
        #expect(!after.contains { $0.first == UInt8(truncatingIfNeeded: h.spoken[0].utf8.count) })
    }

    @Test func bargeInByDTMFDuringAPlayReachesTheMenu() throws {
        let prompt = [UInt8](repeating: 0x42, count: 8_000 * 5)  // 5 s of built prompt
        let h = try FlowHarness(yaml: """
        blocks:
          main:
            - play: welcome
            - menu:
                prompt: { play: options }
                choices: { "3": three }
          three:
            - say: Three.
            - hangup
        """, prompts: ["welcome", "options"], built: ["welcome": prompt])
        h.start()
        h.wait(ms: 1_000)
        #expect(h.carrier.frames.last?.first == 0x42)
        h.press("3")
        #expect(h.carrier.clears == 1)
        h.wait(ms: 1_000)
        // The built prompt played from its file; the unbuilt one was spoken from the catalogue.
        #expect(h.spoken == ["[options]", "Three."])
        #expect(!h.carrier.frames.suffix(10).contains { $0.first == 0x42 })
    }

    @Test func aNonInterruptiblePromptIgnoresKeysForBargeIn() throws {
        let h = try FlowHarness(yaml: """
        blocks:
          main:
            - say: { text: "Please listen carefully, our options have changed.", interruptible: none }
            - menu:
                prompt: { say: "Press 1." }
                choices: { "1": one }
          one:
            - hangup
        """)
        h.start()
        h.wait(ms: 500)
        h.press("1")
        #expect(h.carrier.clears == 0)
        h.wait(ms: 6_000)
        #expect(h.ended)
    }

    @Test func tonesAndPausesAreRealAudio() throws {
        let h = try FlowHarness(yaml: """
        blocks:
          main:
            - tone: { dtmf: "4w2" }
            - pause: 1s
            - tone: beep
            - hangup
        """)
        h.start()
        h.wait(ms: 4_000)
        #expect(h.ended)
        let audio = h.carrier.frames.flatMap { $0 }
        let pcm = G711.decode(audio, law: .ulaw)
        let detector = DTMFDetector()
        var digits: [Character] = []
        pcm.withUnsafeBufferPointer { p in detector.process(p) { digits.append($0.digit) } }
        #expect(digits == ["4", "2"])
        // 4 (200 ms) + w (500 ms) + 2 (200 ms) + pause 1 s + beep 500 ms = 2.4 s = 120 frames.
        #expect(h.carrier.frames.count == 120)
    }

    @Test func aWAVFileIsPlayedAsTelephonyAudio() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flow-wav-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 16 kHz PCM in the file: it must be resampled and encoded on load.
        try WAVFile.write(WAVAudio(pcm16: ToneGenerator.pcm(.beep, durationMs: 400, sampleRate: 16_000), sampleRate: 16_000), to: dir + "/beep.wav")
        try "blocks:\n  main:\n    - play: beep.wav\n    - hangup\n".write(toFile: dir + "/f.yaml", atomically: true, encoding: .utf8)
        let library = try FlowLibrary.load(directory: dir)
        let audio = try #require(library.flows.first?.wavAudio["beep.wav"])
        #expect(audio.count == 3_200)

        try "blocks:\n  main:\n    - play: missing.wav\n".write(toFile: dir + "/f.yaml", atomically: true, encoding: .utf8)
        #expect(throws: FlowLoadError.self) { try FlowLibrary.load(directory: dir) }
    }

    @Test func setAndVariablesFromTheWebhookFillTemplates() throws {
        let h = try FlowHarness(yaml: """
        blocks:
          main:
            - set: { greeting: "Hello {{From}}" }
            - say: "{{greeting}}, calling {{To}}."
            - hangup
        """)
        h.start()
        #expect(h.spoken == ["Hello +15550001111, calling +15551230000."])
    }

    @Test func aGotoLoopWithoutWaitingEndsTheCall() throws {
        let h = try FlowHarness(yaml: """
        blocks:
          a:
            - goto: b
          b:
            - set: { x: "1" }
            - goto: a
        """)
        h.start()
        h.wait(ms: 100)
        #expect(h.ended)
    }

    @Test func theEndOfTheFlowHangsUp() throws {
        let h = try FlowHarness(yaml: "blocks:\n  main:\n    - say: Hi.\n")
        h.start()
        h.wait(ms: 1_000)
        #expect(h.carrier.closed.map(\.0) == [.hangUp])
    }

    @Test func aRelayStepHandsTheCallOverAndResumesAfterIt() throws {
        let sub = RelayStandIn()
        let h = try FlowHarness(yaml: """
        blocks:
          main:
            - relay: { url: "ws://127.0.0.1:1/app", welcomeGreeting: "Hi {{From}}" }
            - say: "Back from the app: {{handoffData}}."
            - hangup
        """) { env in
            env.relay = { request, _ in
                sub.request = request
                return sub
            }
        }
        h.start()
        #expect(sub.started)
        #expect(sub.request?.step.options["welcomeGreeting"] == "Hi +15550001111")
        h.press("5")
        #expect(sub.events.contains(.digit("5", interrupted: false)))
        #expect(h.spoken.isEmpty)
        sub.request?.finished(["handoffData": "agent"])
        h.wait(ms: 100)
        #expect(h.spoken == ["Back from the app: agent."])
    }
}

final class RelayStandIn: CallFlow, @unchecked Sendable {
    var request: FlowRelayRequest?
    var started = false
    var events: [FlowEvent] = []
    func start(_ call: any CallControl) { started = true }
    func handle(_ event: FlowEvent, _ call: any CallControl) { events.append(event) }
}
