import Foundation
import Testing
import VoiceBridgeCalls
import VoiceBridgeRecording

/// A flow that answers with a streamed prompt, one token every 100 ms, as an app or an LLM does.
final class TokenStreamingFlow: CallFlow {
    static let tokens = ["The ", "answer ", "comes ", "token ", "by ", "token."]
    private var prompt: (any StreamedPrompt)?
    private var next = 0

    func start(_ call: any CallControl) {
        prompt = call.startStreamedPrompt(id: "answer", interruptible: .any)
        call.setTimer("token", afterMs: 100)
    }

    func handle(_ event: FlowEvent, _ call: any CallControl) {
        guard case .timer("token") = event, let prompt else { return }
        prompt.send(text: Self.tokens[next])
        next += 1
        if next < Self.tokens.count {
            call.setTimer("token", afterMs: 100)
        } else {
            prompt.finish()
            call.hangUp()
        }
    }
}

@Suite struct StreamedTurnReplayTests {
    static func engine() -> ReplayEngine {
        ReplayEngine(flows: { name in
            guard name == "stream" else { throw UnknownFlowError(name: name) }
            return TokenStreamingFlow()
        })
    }

    @Test func aStreamedTurnWithoutRecordedAudioIsSpokenWhenItsTextIsComplete() throws {
        let text = """
            {"recording":"voicebridge-call","version":1,"flow":"stream","carrier":"simulated","durationMs":8000}
            {"t":0,"start":{}}
            """
        let first = try Self.engine().replay(try RecordedCall(text: text))
        let frames = first.actual.filter(\.isMedia)
        // "The answer comes token by token." at 60 ms a character, from the last token (600 ms).
        #expect(frames.count == TokenStreamingFlow.tokens.joined().count * 3)
        #expect(frames.first?.t == 600)
        #expect(first.actual.last?.kind == .end("hangUp"))
        let updated = try RecordedCall(text: first.updatedText)
        #expect(try Self.engine().replay(updated).passed)
    }

    /// Recorded chunks of a streamed turn are served at their offsets from the turn's start,
    /// whatever the text turns out to be.
    @Test func aRecordedStreamedTurnIsServedFromItsChunks() throws {
        let chunk = Data(repeating: 0x42, count: 800).base64EncodedString()
        let text = """
            {"recording":"voicebridge-call","version":1,"flow":"stream","carrier":"simulated","durationMs":3000}
            {"t":0,"start":{}}
            {"t":0,"tts":"start","turn":"1"}
            {"t":250,"tts":"chunk","turn":"1","audio":"\(chunk)"}
            {"t":700,"tts":"chunk","turn":"1","audio":"\(chunk)"}
            {"t":700,"tts":"done","turn":"1"}
            """
        let result = try Self.engine().replay(try RecordedCall(text: text))
        let frames = result.actual.filter(\.isMedia)
        #expect(frames.count == 10)
        #expect(frames.first?.t == 250)
        #expect(result.notes.isEmpty)
        #expect(frames.allSatisfy { $0.kind == .media([UInt8](repeating: 0x42, count: 160)) })
    }
}
