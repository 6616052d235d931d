import Foundation
import NIOCore
import Testing
import VoiceBridgeSpeech

/// The realtime speech-to-text wire shapes, both ways, from elevenlabs-stt.md §2 (the doc's own
/// examples where it has them).
@Suite struct ScribeCodecTests {
    func parse(_ text: String) throws -> ScribeServerMessage {
        var buffer = ByteBuffer(string: text)
        return try buffer.withUnsafeMutableReadableBytes { try ScribeServerMessage(scanning: UnsafeRawBufferPointer($0)) }
    }

    @Test func sessionStartedPartialAndStable() throws {
        let started = #"{"message_type":"session_started","session_id":"5f0c2a9d8e7b4c61a3d2e1f0b9c8d7e6","config":{"sample_rate":8000,"audio_format":"ulaw_8000","language_code":"en","model_id":"scribe_v2_realtime","commit_strategy":"manual","vad_silence_threshold_secs":1.5,"keyterms":["VoiceBridge"],"keepalive_interval_ms":null}}"#
        #expect(try parse(started) == .sessionStarted(sessionID: "5f0c2a9d8e7b4c61a3d2e1f0b9c8d7e6"))
        #expect(try parse(#"{"message_type":"partial_transcript","text":"I'd like to move my"}"#) == .partial("I'd like to move my"))
        #expect(try parse(#"{"message_type":"final_transcript","text":"I'd like to move my appointment"}"#) == .stable("I'd like to move my appointment"))
    }

    /// A confidence is a probability whatever log-probabilities the wire carries: the flow's
    /// `{{confidence}}` formatting trapped on an astronomically large one.
    @Test func aConfidenceStaysAProbability() throws {
        for (logprob, expected) in [("5", 1.0), ("1e300", nil), ("-1e300", 0.0)] as [(String, Double?)] {
            let text = #"{"message_type":"committed_transcript_with_timestamps","text":"yes","words":[{"text":"yes","start":0.1,"end":0.4,"type":"word","logprob":"# + logprob + "}]}"
            guard case .committed(let commit) = try parse(text) else {
                Issue.record("not a commit")
                return
            }
            #expect(commit.confidence == expected, "logprob \(logprob)")
        }
    }

    @Test func committedPlainAndTimestamped() throws {
        #expect(try parse(#"{"message_type":"committed_transcript","text":"I'd like to move my appointment to Friday."}"#)
            == .committed(ScribeCommit(text: "I'd like to move my appointment to Friday.")))
        let stamped = #"{"message_type":"committed_transcript_with_timestamps","text":"Friday, please.","language_code":"eng","words":[{"text":"Friday,","start":12.48,"end":12.93,"type":"word","logprob":-0.04},{"text":" ","start":12.93,"end":13.01,"type":"spacing","logprob":0.0},{"text":"please.","start":13.01,"end":13.37,"type":"word","logprob":-0.11,"characters":["p","l"]}]}"#
        guard case .committed(let commit) = try parse(stamped) else {
            Issue.record("not a commit")
            return
        }
        #expect(commit.timestamped && commit.text == "Friday, please." && commit.languageCode == "eng")
        #expect(commit.words.map(\.text) == ["Friday,", " ", "please."])
        #expect(commit.words.map(\.kind) == [.word, .spacing, .word])
        #expect(commit.words[2].start == 13.01 && commit.words[2].end == 13.37)
        let confidence = try #require(commit.confidence)
        #expect(abs(confidence - exp(-0.075)) < 1e-9)
        // Language detection alone: words null.
        #expect(try parse(#"{"message_type":"committed_transcript_with_timestamps","text":"Hola","language_code":"spa","words":null}"#)
            == .committed(ScribeCommit(text: "Hola", languageCode: "spa", timestamped: true)))
    }

    @Test(arguments: [
        ("auth_error", ScribeError.Kind.auth, true), ("quota_exceeded", .quota, true), ("quota_exceeded_error", .quota, true),
        ("unaccepted_terms", .unacceptedTerms, true), ("unaccepted_terms_error", .unacceptedTerms, true),
        ("invalid_request", .invalidRequest, true), ("input_error", .input, false), ("chunk_size_exceeded", .chunkSizeExceeded, false),
        ("commit_throttled", .commitThrottled, false), ("rate_limited", .rateLimited, false), ("queue_overflow", .rateLimited, false),
        ("resource_exhausted", .rateLimited, false), ("session_time_limit_exceeded", .sessionTimeLimit, false),
        ("insufficient_audio_activity", .insufficientAudio, false), ("transcriber_error", .transcriber, false),
        ("error", .transcriber, false), ("brand_new_error", .transcriber, false),
    ])
    func errorsAreTypedByWhatTheBridgeDoes(type: String, kind: ScribeError.Kind, fatal: Bool) throws {
        let message = try parse(#"{"message_type":"\#(type)","error":"Commit ignored: 0.12s of uncommitted audio."}"#)
        #expect(message == .error(ScribeError(kind, "Commit ignored: 0.12s of uncommitted audio.")))
        if case .error(let error) = message { #expect(error.isFatal == fatal) }
    }

    @Test func unknownTypesAreIgnoredAndBrokenOnesRefused() throws {
        #expect(try parse(#"{"message_type":"committed_transcript_entities","text":"x","entities":[]}"#) == .ignored(type: "committed_transcript_entities"))
        #expect(try parse(#"{"message_type":"something_new","text":"x"}"#) == .ignored(type: "something_new"))
        #expect(throws: ElevenLabsWebSocketError.self) { try parse(#"{"text":"no type"}"#) }
        #expect(throws: ElevenLabsWebSocketError.self) { try parse(#"{"message_type":"partial_transcript","text":"#) }
    }

    @Test func audioChunksAreTheDocumentedShape() throws {
        var buffer = ByteBuffer()
        let audio: [UInt8] = [0xFF, 0xFF, 0xFE, 0x7E]
        audio.withUnsafeBytes { ScribeAudioChunk.write(audio: $0, commit: false, sampleRate: 8000, previousText: "Which day suits you?", into: &buffer) }
        #expect(String(buffer: buffer) == #"{"message_type":"input_audio_chunk","audio_base_64":"///+fg==","commit":false,"sample_rate":8000,"previous_text":"Which day suits you?"}"#)
        buffer.clear()
        [UInt8]().withUnsafeBytes { ScribeAudioChunk.write(audio: $0, commit: true, sampleRate: 8000, into: &buffer) }
        #expect(String(buffer: buffer) == #"{"message_type":"input_audio_chunk","audio_base_64":"","commit":true,"sample_rate":8000}"#)
        // previous_text keeps its last 50 characters, escaped.
        buffer.clear()
        let long = String(repeating: "a", count: 60) + "\"end\""
        [UInt8]().withUnsafeBytes { ScribeAudioChunk.write(audio: $0, commit: false, sampleRate: 16000, previousText: long, into: &buffer) }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(String(buffer: buffer).utf8)) as? [String: Any])
        #expect((object["previous_text"] as? String)?.count == 50)
        #expect((object["previous_text"] as? String)?.hasSuffix("\"end\"") == true)
        #expect(object["sample_rate"] as? Int == 16000)
    }

    @Test func settingsBecomeTheQueryAndAreChecked() throws {
        var settings = ScribeSettings()
        settings.languageCode = "en"
        settings.keyterms = ["billing", " pay  my bill ", "Billing", "", String(repeating: "x", count: 21)]
        let query = settings.queryItems
        #expect(query.first! == ("model_id", "scribe_v2_realtime"))
        #expect(query.contains { $0 == ("audio_format", "ulaw_8000") })
        #expect(query.contains { $0 == ("commit_strategy", "manual") })
        #expect(query.contains { $0 == ("include_timestamps", "true") })
        #expect(query.filter { $0.0 == "keyterms" }.map(\.1) == ["billing", "pay my bill"])
        #expect(ScribeSettings.keyterms(hints: "VoiceBridge, Acme ,, ") == ["VoiceBridge", "Acme"])
        #expect(ScribeSettings.keyterms((0..<80).map { "t\($0)" }).count == 50)
        _ = try settings.validated()
        settings.vadSilenceThresholdSeconds = 0.2
        #expect(throws: ElevenLabsWebSocketError.self) { try settings.validated() }
        settings.vadSilenceThresholdSeconds = nil
        settings.languageCode = "en-US"
        #expect(throws: ElevenLabsWebSocketError.self) { try settings.validated() }
        #expect(ScribeSettings.languageCode(bcp47: "en-US") == "en")
        #expect(ScribeSettings.languageCode(bcp47: "multi") == nil)
        #expect(ScribeSettings.languageCode(bcp47: "yue-HK") == "yue")
    }

    @Test func theTargetIsUnderTheBaseURLsPath() throws {
        var configuration = ElevenLabsWebSocketConfiguration(apiKey: "k", baseURL: "http://127.0.0.1:9/proxy/", voiceID: "v")
        configuration.modelID = "eleven_flash_v2_5"
        var settings = ScribeSettings()
        settings.keyterms = ["pay my bill"]
        let target = try configuration.target(path: ScribeSettings.path, query: settings.queryItems)
        #expect(target.uri.hasPrefix("/proxy/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&audio_format=ulaw_8000"))
        #expect(target.uri.hasSuffix("&keyterms=pay%20my%20bill"))
        #expect(!target.tls && target.port == 9)
    }
}
