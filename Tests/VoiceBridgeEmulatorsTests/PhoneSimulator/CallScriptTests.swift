import Testing
import VoiceBridgeAudio
@testable import VoiceBridgeEmulators

@Suite struct CallScriptTests {
    @Test func parsesDTMFCues() throws {
        let cues = try CallScript.parseDTMF("4.0:#, 2.5:1,0.02:*,7:0")
        #expect(
            cues == [
                .init(atMs: 20, digit: "*"), .init(atMs: 2500, digit: "1"), .init(atMs: 4000, digit: "#"),
                .init(atMs: 7000, digit: "0"),
            ])
    }

    @Test(arguments: ["", "2.5", "2.5:", "2.5:12", "2.5:A", "x:1", "-1:1", "1.2.3:4", "2.5:1,", ":1", "1e3:1", "inf:1"])
    func rejectsBadDTMF(_ spec: String) {
        #expect(throws: CallScriptError.self) { try CallScript.parseDTMF(spec) }
    }

    @Test func dtmfErrorNamesTheItem() {
        #expect(throws: CallScriptError.badDTMF("2.5:x", "the key must be one of 0-9, * or #")) {
            try CallScript.parseDTMF("1:1,2.5:x")
        }
    }

    @Test func parsesSpeakCues() throws {
        #expect(try CallScript.parseSpeak("1.5:hello.wav") == .init(atMs: 1500, path: "hello.wav"))
        #expect(try CallScript.parseSpeak("0:C:/a:b.wav") == .init(atMs: 0, path: "C:/a:b.wav"))
    }

    @Test(arguments: ["hello.wav", "1.5:", "abc:x.wav", "-2:x.wav", ":x.wav"])
    func rejectsBadSpeak(_ spec: String) {
        #expect(throws: CallScriptError.self) { try CallScript.parseSpeak(spec) }
    }

    @Test func parsesSayCues() throws {
        #expect(try CallScript.parseSay(#"3.0:"pay my bill""#) == .init(atMs: 3000, text: "pay my bill"))
        #expect(try CallScript.parseSay("1: Pay  My: Bill ") == .init(atMs: 1000, text: "pay my: bill"))
        let script = CallScript(say: [.init(atMs: 5000, text: "b"), .init(atMs: 1000, text: "a")])
        #expect(script.say.map(\.atMs) == [1000, 5000])
    }

    @Test func sayErrorsNameTheItemAndTheProblem() {
        #expect(throws: CallScriptError.badSay("pay my bill", #"expected SECONDS:TEXT, e.g. 3.0:"pay my bill""#)) {
            try CallScript.parseSay("pay my bill")
        }
        #expect(throws: CallScriptError.badSay("x:hi", "'x' is not a time in seconds")) { try CallScript.parseSay("x:hi") }
        #expect(throws: CallScriptError.badSay("2:", "the text is empty")) { try CallScript.parseSay("2:") }
        #expect(throws: CallScriptError.badSay(#"2:"""#, "the text is empty")) { try CallScript.parseSay(#"2:"""#) }
        let unsupported = CallScriptError.badSay("2:price $5", SpokenTextCodeError.unsupportedCharacter("$", position: 6).description)
        #expect(throws: unsupported) { try CallScript.parseSay("2:price $5") }
        #expect(unsupported.description.hasPrefix("bad --say '2:price $5': '$' at position 6 cannot be spoken"))
    }

    @Test func parsesRawCues() throws {
        #expect(try CallScript.parseRaw(#"2:{"event":"media""#) == .init(atMs: 2000, text: #"{"event":"media""#))
        #expect(throws: CallScriptError.self) { try CallScript.parseRaw("2:") }
        #expect(throws: CallScriptError.self) { try CallScript.parseRaw("x:{}") }
    }

    @Test func endIsTheEarlierOfHangupAndMaxDuration() {
        #expect(CallScript(hangupAtMs: 5000, maxDurationMs: 60_000).endMs == 5000)
        #expect(CallScript(hangupAtMs: 90_000, maxDurationMs: 60_000).endMs == 60_000)
        #expect(CallScript(maxDurationMs: 3000).endMs == 3000)
    }
}

@Suite struct CallTimelineVerdictTests {
    /// A stream the server refused (any close but 1000 from its side) is a failed call, whatever
    /// else went right; the caller hanging up, or the server ending normally, is not.
    @Test func aServerRefusalFailsTheCall() {
        var timeline = CallTimeline.failed(callSid: "c", accountSid: "a", webhookURL: "u", error: "")
        timeline.error = nil
        timeline.endReason = .serverClosed
        timeline.close = CallTimeline.Close(initiator: "server", code: 1008, reason: "start names account X")
        #expect(timeline.refusedByServer && !timeline.passed)
        timeline.close?.code = 1000
        #expect(!timeline.refusedByServer && timeline.passed)
        timeline.close = CallTimeline.Close(initiator: "caller", code: 1000, reason: nil)
        timeline.endReason = .hangup
        #expect(timeline.passed)
    }
}
