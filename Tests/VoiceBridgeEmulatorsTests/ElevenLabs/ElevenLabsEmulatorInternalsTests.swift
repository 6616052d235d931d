import Testing
import VoiceBridgeSpeech
@testable import VoiceBridgeEmulators

/// The pure pieces: schedule buffering, alignment slicing, redaction.
@Suite struct ElevenLabsEmulatorInternalsTests {
    @Test func scheduleStepsThenRepeatsTheLast() {
        var buffer = ElevenLabsEmulatorTextBuffer(schedule: [50, 60])
        buffer.append(String(repeating: "x ", count: 24))  // 48
        #expect(buffer.scheduled(tryTrigger: false) == nil)
        buffer.append("yy ")  // 51
        #expect(buffer.scheduled(tryTrigger: false)?.unicodeScalars.count == 51)
        #expect(buffer.threshold == 60)
        buffer.append(String(repeating: "z ", count: 30))
        #expect(buffer.scheduled(tryTrigger: false) != nil)
        #expect(buffer.threshold == 60)  // the last entry repeats
    }

    @Test func tryTriggerAtFifty() {
        var buffer = ElevenLabsEmulatorTextBuffer()
        buffer.append(String(repeating: "a", count: 48) + " ")
        #expect(buffer.scheduled(tryTrigger: true) == nil)
        buffer.append("b")
        #expect(buffer.scheduled(tryTrigger: true) != nil)
    }

    @Test func flushTakesEverythingAndEmptyFlushIsNothing() {
        var buffer = ElevenLabsEmulatorTextBuffer()
        #expect(buffer.takeAll() == nil)
        buffer.append("half a wor")
        #expect(buffer.takeAll() == "half a wor")
        #expect(buffer.isEmpty)
    }

    @Test func slicerTilesAndRestoresSkippedCharacters() {
        // The voice times "Hi" and "there" but not the spaces and the final "!".
        var slicer = ElevenLabsEmulatorAudioSlicer(text: " Hi there!", chunkMs: 100)
        let first = SpeechChunk(turnID: "t", audio: [UInt8](repeating: 1, count: 1200), alignment: Alignment(chars: ["H", "i", "t", "h"], charStartTimesMs: [10, 40, 90, 120], charDurationsMs: [30, 30, 30, 30]))
        let second = SpeechChunk(turnID: "t", audio: [UInt8](repeating: 2, count: 800), alignment: Alignment(chars: ["e", "r", "e"], charStartTimesMs: [0, 30, 60], charDurationsMs: [30, 30, 30]))
        var pieces = slicer.append(first)
        pieces += slicer.append(second)
        pieces += slicer.finish()
        #expect(pieces.map(\.audio.count) == [800, 800, 400])
        #expect(pieces.flatMap(\.audio) == first.audio + second.audio)
        #expect(pieces.compactMap(\.alignment).flatMap(\.chars).joined() == " Hi there!")
        #expect(pieces[0].alignment?.chars == [" ", "H", "i", " ", "t"])
        #expect(pieces[0].alignment?.startTimesMs == [10, 10, 40, 90, 90])
        #expect(pieces[0].alignment?.durationsMs == [0, 30, 50, 0, 10])
        #expect(pieces[1].alignment?.chars == ["h", "e", "r"])
        #expect(pieces[1].alignment?.startTimesMs == [20, 50, 80])  // relative to 100 ms
        #expect(pieces[1].alignment?.durationsMs == [30, 30, 20])
        // The untimed "!" goes at the end of the audio.
        #expect(pieces[2].alignment?.chars == ["e", "!"])
        #expect(pieces[2].alignment?.startTimesMs == [10, 50])
        #expect(pieces[2].alignment?.durationsMs == [40, 0])
    }

    @Test func redactionKeepsEverythingButTheSecret() {
        #expect(ElevenLabsEmulatorRedaction.redactJSON(#"{"text":" ", "xi_api_key" : "sk_123","flush":true}"#)
            == #"{"text":" ", "xi_api_key" : "<redacted>","flush":true}"#)
        #expect(ElevenLabsEmulatorRedaction.redactJSON(#"{"xi-api-key":"a\"b","authorization":"Bearer x"}"#)
            == #"{"xi-api-key":"<redacted>","authorization":"<redacted>"}"#)
        #expect(ElevenLabsEmulatorRedaction.redactJSON(#"{"text":"xi_api_key"}"#) == #"{"text":"xi_api_key"}"#)
        #expect(ElevenLabsEmulatorRedaction.redactURI("/v1/x?output_format=ulaw_8000&single_use_token=abc&authorization=Bearer%20k")
            == "/v1/x?output_format=ulaw_8000&single_use_token=<redacted>&authorization=<redacted>")
    }

    @Test func requestTargets() {
        #expect(ElevenLabsEmulatorRequestTarget(uri: "/v1/text-to-speech/v%201/multi-stream-input?a=b+c").route == .webSocket(voiceID: "v 1", multiContext: true))
        #expect(ElevenLabsEmulatorRequestTarget(uri: "/v1/text-to-speech/v/multi-stream-input?a=b+c").query["a"] == "b c")
        #expect(ElevenLabsEmulatorRequestTarget(uri: "/v1/text-to-speech/v/stream/with-timestamps").route == .textToSpeech(voiceID: "v", withTimestamps: true))
        #expect(ElevenLabsEmulatorRequestTarget(uri: "/v1/single-use-token/tts_websocket").route == .singleUseToken(type: "tts_websocket"))
        #expect(ElevenLabsEmulatorRequestTarget(uri: "/v1/voices").route == .unknown)
    }
}
