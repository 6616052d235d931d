import NIOCore
import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers
@testable import VoiceBridgeEmulators

/// The speech-to-text session's decisions on manual time, with no sockets: when each message is
/// due, and that nothing overtakes anything.
@Suite struct ElevenLabsEmulatorTranscriptionSessionTests {
    static let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func session(
        _ query: String = "model_id=scribe_v2_realtime&audio_format=ulaw_8000",
        _ change: (inout ElevenLabsEmulatorConfiguration.SpeechToText) -> Void = { _ in }
    ) -> ElevenLabsEmulatorTranscriptionSession {
        var configuration = ElevenLabsEmulatorConfiguration.SpeechToText()
        change(&configuration)
        let recorder = ElevenLabsEmulatorRecorder(faults: .init(), speechToTextFaults: configuration.faults)
        let id = recorder.begin(kind: .webSocket, method: "GET", uri: "/", path: "/", query: [:], headers: [])
        _ = recorder.beginTranscription(id)
        let target = ElevenLabsEmulatorRequestTarget(uri: "/v1/speech-to-text/realtime?\(query)")
        var session = ElevenLabsEmulatorTranscriptionSession(
            .init(
                settings: ElevenLabsEmulatorTranscriptionSettings.parse(target.queryItems, models: configuration.models),
                credential: .valid, configuration: configuration, sessionID: "s", rateLimited: false,
                recorder: recorder, recordID: 1
            ),
            now: t0
        )
        session.start(now: t0)
        return session
    }

    static func send(_ session: inout ElevenLabsEmulatorTranscriptionSession, _ audio: [UInt8], commit: Bool = false, at now: NIODeadline) {
        let message = Array(SpeechToText.message(audio, commit: commit).utf8)
        message.withUnsafeBytes { session.receive($0, now: now) }
    }

    static func texts(_ outputs: [ElevenLabsEmulatorTranscriptionSession.Output]) -> [String] {
        outputs.compactMap { if case .send(let text) = $0 { SpeechToText.fields(text)["text"] as? String ?? SpeechToText.type(text) } else { nil } }
    }

    @Test func partialsAreDueTheirLatencyAfterTheAudioThatCompletesTheWord() throws {
        var session = Self.session()
        #expect(Self.texts(session.advance(to: Self.t0)) == ["session_started"])
        let chunks = SpeechToText.chunks(try SpeechToText.coded("pay my bill"))
        let completes = SpeechToText.wordChunks(chunks)
        var now = Self.t0
        var heard: [String] = []
        for (index, chunk) in chunks.enumerated() {
            now = Self.t0 + .milliseconds(Int64(100 * (index + 1)))
            Self.send(&session, chunk, at: now)
            if completes[index] != nil {
                #expect(session.nextDeadline == now + .milliseconds(150))
                #expect(session.advance(to: now + .milliseconds(149)).isEmpty)
                heard += Self.texts(session.advance(to: now + .milliseconds(150)))
            }
        }
        #expect(heard == ["pay", "pay my", "pay my bill"])
        Self.send(&session, [], commit: true, at: now + .seconds(1))
        #expect(session.advance(to: now + .milliseconds(1149)).isEmpty)
        #expect(Self.texts(session.advance(to: now + .milliseconds(1150))) == ["pay my bill"])
    }

    @Test func aQuickCommitWaitsForTheSlowPartialsBeforeIt() throws {
        var session = Self.session { $0.partialLatencyMs = 500; $0.commitLatencyMs = 10; $0.faults.commitDelayMs = 0 }
        _ = session.advance(to: Self.t0)
        let audio = try SpeechToText.coded("pay my bill")
        Self.send(&session, Array(audio[..<8000]), at: Self.t0)
        Self.send(&session, Array(audio[8000...]), commit: true, at: Self.t0 + .milliseconds(1))
        // All three partials are due at t0 + 500 ms or later; the commit may not come before them.
        #expect(session.advance(to: Self.t0 + .milliseconds(499)).isEmpty)
        #expect(Self.texts(session.advance(to: Self.t0 + .milliseconds(501))) == ["pay", "pay my", "pay my bill", "pay my bill"])
    }

    @Test func theIdleCloseComesExactlyAtTheTimeout() {
        var session = Self.session()
        _ = session.advance(to: Self.t0)
        Self.send(&session, [UInt8](repeating: 0xFF, count: 800), at: Self.t0 + .seconds(1))
        #expect(session.nextDeadline == Self.t0 + .seconds(16))
        #expect(session.advance(to: Self.t0 + .milliseconds(15_999)).isEmpty)
        #expect(session.advance(to: Self.t0 + .seconds(16)) == [.close(code: 1000, reason: "No message received for 15 seconds.")])
        #expect(session.isFinished && session.nextDeadline == nil)
    }

    @Test func automaticCommitAfterTooMuchUncommittedAudio() {
        var session = Self.session { $0.autoCommitSeconds = 2; $0.commitLatencyMs = 0 }
        _ = session.advance(to: Self.t0)
        for second in 0..<5 {
            Self.send(&session, [UInt8](repeating: 0xFF, count: 8000), at: Self.t0 + .seconds(Int64(second)))
        }
        #expect(Self.texts(session.advance(to: Self.t0 + .seconds(5))) == ["", ""])
    }

    @Test func timedWordsCarrySpacingBetweenThem() {
        let words = [
            SpokenWord(text: "pay", startSample: 8400, endSample: 9520, confidence: 1),
            SpokenWord(text: "my", startSample: 10000, endSample: 10720, confidence: 0.9),
        ]
        #expect(ElevenLabsEmulatorTranscriptionSession.timed(words) == [
            .init(text: "pay", start: 1.05, end: 1.19, kind: .word, logprob: 0),
            .init(text: " ", start: 1.19, end: 1.25, kind: .spacing, logprob: 0),
            .init(text: "my", start: 1.25, end: 1.34, kind: .word, logprob: -0.1054),
        ])
    }

    @Test func messageShapesAreTheDocumentedOnes() {
        #expect(ElevenLabsEmulatorTranscriptionProtocol.partialTranscript("I'd like") == #"{"message_type":"partial_transcript","text":"I'd like"}"#)
        #expect(ElevenLabsEmulatorTranscriptionProtocol.errorMessage("auth_error", "Invalid API key") == #"{"message_type":"auth_error","error":"Invalid API key"}"#)
        #expect(ElevenLabsEmulatorTranscriptionProtocol.commitThrottledError(uncommittedSeconds: 0.12, minimumSeconds: 0.3)
            == "Commit ignored: 0.12s of uncommitted audio, at least 0.3s needed.")
        let timed = ElevenLabsEmulatorTranscriptionProtocol.committedTranscriptWithTimestamps(
            "Friday, please.", languageCode: "eng",
            words: [.init(text: "Friday,", start: 12.48, end: 12.93, kind: .word, logprob: -0.04)]
        )
        #expect(timed == #"{"message_type":"committed_transcript_with_timestamps","text":"Friday, please.","language_code":"eng","words":[{"text":"Friday,","start":12.48,"end":12.93,"type":"word","logprob":-0.04}]}"#)
    }
}
