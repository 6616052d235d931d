import Foundation
import NIOCore
import Testing
import VoiceBridgeAudio
import VoiceBridgeEmulators

/// Refusals, protocol errors and injected faults of the realtime speech-to-text socket: each is
/// an error message then a close (or, for a drop, the connection ending with no close frame).
@Suite(.timeLimit(.minutes(1)))
struct ElevenLabsEmulatorSpeechToTextFaultTests {
    static let base = "model_id=scribe_v2_realtime&audio_format=ulaw_8000"

    @Test(arguments: [
        ("audio_format=ulaw_8000", "Invalid request: the query parameter model_id is required."),
        ("model_id=scribe_v1", "Invalid request: model_id=scribe_v1 is not one of scribe_v2_realtime, scribe_v2_realtime_turbo."),
        ("model_id=scribe_v2_realtime&audio_format=mp3_44100",
         "Invalid request: audio_format=mp3_44100 is not one of pcm_8000, pcm_16000, pcm_22050, pcm_24000, pcm_44100, pcm_48000, ulaw_8000."),
        ("\(base)&commit_strategy=auto", "Invalid request: commit_strategy=auto is not one of manual, vad."),
        ("\(base)&vad_silence_threshold_secs=0.2", "Invalid request: vad_silence_threshold_secs=0.2 is outside 0.3-3.0."),
        ("\(base)&vad_threshold=high", "Invalid request: vad_threshold=high: expected a number."),
        ("\(base)&min_speech_duration_ms=10", "Invalid request: min_speech_duration_ms=10 is outside 50-2000."),
        ("\(base)&min_silence_duration_ms=2500", "Invalid request: min_silence_duration_ms=2500 is outside 50-2000."),
        ("\(base)&keepalive_interval_ms=750.5", "Invalid request: keepalive_interval_ms=750.5: expected an integer."),
        ("\(base)&keepalive_interval_ms=100", "Invalid request: keepalive_interval_ms=100 is outside 500-10000."),
        ("\(base)&include_timestamps=maybe", "Invalid request: include_timestamps=maybe: expected a boolean."),
        ("\(base)&language_code=english", "Invalid request: language_code=english: expected an ISO 639-1 or 639-3 code."),
        ("\(base)&include_timestamps=true&filter_background_audio=true",
         "Invalid request: filter_background_audio cannot be combined with include_timestamps."),
    ])
    func aBadQueryIsInvalidRequestThenAClose(query: String, error: String) async throws {
        try await withEmulator(SpeechToText.configuration()) { emulator, port in
            let socket = try await TestWebSocket.connect(port: port, path: SpeechToText.path(query), headers: validKey)
            let refusal = await SpeechToText.refusal(socket)
            #expect(refusal.type == "invalid_request")
            #expect(refusal.error == error)
            #expect(refusal.close == .close(code: 1008, reason: ElevenLabsEmulatorProtocol.wireReason(error)))
            #expect(emulator.transcriptions.first?.sessionID == nil)
        }
    }

    @Test func theBoundsAndEveryDocumentedParameterAreAccepted() async throws {
        try await withEmulator(SpeechToText.configuration()) { emulator, port in
            let query = "\(Self.base)&commit_strategy=vad&vad_silence_threshold_secs=0.3&vad_threshold=0.9&min_speech_duration_ms=50"
                + "&min_silence_duration_ms=2000&language_code=eng&include_timestamps=1&include_language_detection=false"
                + "&keyterms=VoiceBridge&keyterms=pay%20bill&no_verbatim=true&enable_logging=false&keepalive_interval_ms=10000"
                + "&secondary_languages=es,fr&entity_detection=pii&unknown_parameter=ignored"
            let (socket, started) = try await SpeechToText.start(port: port, query: query)
            let config = try #require(started["config"] as? [String: Any])
            #expect(config["keyterms"] as? [String] == ["VoiceBridge", "pay bill"])
            #expect(config["vad_silence_threshold_secs"] as? Double == 0.3)
            #expect(config["keepalive_interval_ms"] as? Int == 10000)
            #expect(config["enable_logging"] as? Bool == false)
            #expect(config["include_timestamps"] as? Bool == true)
            #expect(config["language_code"] as? String == "eng")
            try await socket.sendClose()
            _ = await socket.collect(timeout: .seconds(5))
            #expect(emulator.transcriptions.count == 1)
        }
    }

    @Test func aWrongOrMissingKeyIsAnAuthErrorAndASingleUseTokenWorksOnce() async throws {
        try await withEmulator(SpeechToText.configuration()) { _, port in
            let wrong = try await TestWebSocket.connect(port: port, path: SpeechToText.path(), headers: [("xi-api-key", "nope")])
            let refused = await SpeechToText.refusal(wrong)
            #expect(refused.type == "auth_error" && refused.error == "Invalid API key")
            #expect(refused.close == .close(code: 1008, reason: "Invalid API key"))

            let missing = try await TestWebSocket.connect(port: port, path: SpeechToText.path())
            #expect(await SpeechToText.refusal(missing).error == ElevenLabsEmulatorTranscriptionProtocol.missingCredentialsError)

            let response = try await TestHTTP.request(port: port, path: "/v1/single-use-token/realtime_scribe", headers: validKey)
            let token = try #require(SpeechToText.fields(response.text)["token"] as? String)
            let first = try await TestWebSocket.connect(port: port, path: SpeechToText.path("\(Self.base)&token=\(token)"))
            guard case .text(let started) = await first.next() else { Issue.record("no answer"); return }
            #expect(SpeechToText.type(started) == "session_started")
            let again = try await TestWebSocket.connect(port: port, path: SpeechToText.path("\(Self.base)&token=\(token)"))
            #expect(await SpeechToText.refusal(again).type == "auth_error")
        }
    }

    @Test func previousTextIsAllowedOnlyOnTheFirstChunk() async throws {
        try await withEmulator(SpeechToText.configuration()) { emulator, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            // LiveKit's way: previous_text on an empty first chunk. The Python SDK's null is no text.
            try await socket.send(SpeechToText.message([], previousText: "Which day suits you?"))
            try await socket.send(#"{"message_type":"input_audio_chunk","audio_base_64":"/w==","commit":false,"sample_rate":8000,"previous_text":null}"#)
            try await socket.send(SpeechToText.message([0xFF], previousText: "again"))
            let refusal = await SpeechToText.refusal(socket)
            #expect(refusal.type == "input_error")
            #expect(refusal.error == "previous_text is only allowed on the first input_audio_chunk of a session.")
            #expect(emulator.transcriptions.first?.chunks.map(\.previousText) == ["Which day suits you?", nil])
        }
    }

    @Test(arguments: [
        (#"{"message_type":"commit"}"#, "Unknown message_type commit: the only client message is input_audio_chunk."),
        (#"{"message_type":"input_audio_chunk","audio_base_64":"***"}"#, "audio_base_64 is not valid base64."),
        (#"{"message_type":"input_audio_chunk"}"#, "Invalid message: audio_base_64 is missing."),
        (#"{"message_type":"input_audio_chunk","audio_base_64":"","commit":"yes"}"#, "Invalid message: commit must be a boolean."),
        (#"{"message_type":"input_audio_chunk","audio_base_64":"","sample_rate":16000}"#, "sample_rate 16000 does not match audio_format ulaw_8000."),
        ("not json", nil),
    ] as [(String, String?)])
    func aBadChunkIsAnInputErrorThenAClose(message: String, error: String?) async throws {
        try await withEmulator(SpeechToText.configuration()) { _, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            try await socket.send(message)
            let refusal = await SpeechToText.refusal(socket)
            #expect(refusal.type == "input_error")
            if let error { #expect(refusal.error == error) } else { #expect(refusal.error?.hasPrefix("Invalid message: ") == true) }
        }
    }

    @Test func aBinaryFrameIsAnInputError() async throws {
        try await withEmulator(SpeechToText.configuration()) { _, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            try await socket.sendBinary([0xFF, 0xFF])
            #expect(await SpeechToText.refusal(socket).error == ElevenLabsEmulatorTranscriptionProtocol.binaryFrameError)
        }
    }

    @Test func aChunkOverOneSecondIsChunkSizeExceeded() async throws {
        try await withEmulator(SpeechToText.configuration()) { emulator, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            try await socket.send(SpeechToText.message([UInt8](repeating: 0xFF, count: 8000)))  // exactly 1 s: fine
            try await socket.send(SpeechToText.message([UInt8](repeating: 0xFF, count: 8800)))
            let refusal = await SpeechToText.refusal(socket)
            #expect(refusal.type == "chunk_size_exceeded")
            #expect(refusal.error == "Chunk too large: 1.10s of audio in one chunk, at most 1s allowed.")
            #expect(emulator.transcriptions.first?.chunks.map(\.audioBytes) == [8000])
        }
    }

    @Test func aSilentClientIsClosedAfterTheIdleTimeout() async throws {
        try await withEmulator(SpeechToText.configuration { $0.idleTimeoutSeconds = 0.3 }) { emulator, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            let (messages, end) = await socket.collect(timeout: .seconds(10))
            #expect(messages.isEmpty)
            #expect(end == .close(code: 1000, reason: "No message received for 0.3 seconds."))
            #expect(emulator.requests.first?.closeCode == 1000)
        }
    }

    @Test func keepAlivePartialsRepeatTheLastPartialWhileTheClientStreams() async throws {
        try await withEmulator(SpeechToText.configuration()) { _, port in
            let (socket, _) = try await SpeechToText.start(port: port, query: "\(Self.base)&keepalive_interval_ms=500")
            for chunk in SpeechToText.chunks(try SpeechToText.coded("yes", leadMs: 0, tailMs: 1700)) {
                try await socket.send(SpeechToText.message(chunk))
                try await Task.sleep(for: .milliseconds(100))
            }
            let messages = await socket.quietMessages(for: .milliseconds(200)).compactMap { event -> String? in
                if case .text(let text) = event { return text } else { return nil }
            }
            // Keep-alives say "" until the word's partial, then repeat it; nothing else is said.
            let empty = #"{"message_type":"partial_transcript","text":""}"#
            let yes = #"{"message_type":"partial_transcript","text":"yes"}"#
            let firstYes = try #require(messages.firstIndex(of: yes), "\(messages)")
            #expect(messages[..<firstYes].allSatisfy { $0 == empty })
            #expect(messages[firstYes...].allSatisfy { $0 == yes })
            #expect(messages.count - firstYes >= 2, "\(messages)")
        }
    }

    // MARK: - Injected faults

    @Test func quotaExceededAtTheFirstChunk() async throws {
        try await withEmulator(SpeechToText.configuration { $0.faults.quotaExceeded = true }) { _, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            try await socket.send(SpeechToText.message([UInt8](repeating: 0xFF, count: 800)))
            let refusal = await SpeechToText.refusal(socket)
            #expect(refusal.type == "quota_exceeded")
            #expect(refusal.close == .close(code: 1008, reason: ElevenLabsEmulatorProtocol.wireReason(ElevenLabsEmulatorTranscriptionProtocol.quotaExceededError)))
        }
    }

    @Test func theFirstSessionsAreRateLimited() async throws {
        try await withEmulator(SpeechToText.configuration { $0.faults.rateLimitedCount = 2 }) { emulator, port in
            for _ in 0..<2 {
                let socket = try await TestWebSocket.connect(port: port, path: SpeechToText.path(), headers: validKey)
                let refusal = await SpeechToText.refusal(socket)
                #expect(refusal.type == "rate_limited")
                #expect(refusal.close == .close(code: 1008, reason: ElevenLabsEmulatorTranscriptionProtocol.rateLimitedError))
            }
            _ = try await SpeechToText.start(port: port)
            #expect(emulator.counters.transcriptionErrorsSent == ["rate_limited": 2])
            #expect(emulator.counters.transcriptionSessions == 1)
        }
    }

    @Test func aDropAfterSomeAudioEndsTheSocketWithNoCloseFrame() async throws {
        try await withEmulator(SpeechToText.configuration { $0.faults.disconnectAfterAudioMs = 300 }) { emulator, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            let chunks = SpeechToText.chunks(try SpeechToText.coded("pay my bill"))
            for chunk in chunks.prefix(3) { try await socket.send(SpeechToText.message(chunk)) }
            // Mid-utterance: the coded speech starts at 200 ms.
            #expect(await socket.next() == .ended)
            #expect(emulator.requests.first?.closeCode == 1006)
            #expect(emulator.transcriptions.first?.chunks.count == 3)
            #expect(emulator.counters.injectedDisconnects == 1)
            // Only the first session is dropped.
            let (second, _) = try await SpeechToText.start(port: port)
            for (index, chunk) in chunks.enumerated() { try await second.send(SpeechToText.message(chunk, commit: index == chunks.count - 1)) }
            #expect(await SpeechToText.messages(from: second, through: "committed_transcript").last
                == #"{"message_type":"committed_transcript","text":"pay my bill"}"#)
        }
    }

    @Test func aDropAtTheFirstPartialLeavesTheClientWithNoText() async throws {
        let configuration = SpeechToText.configuration { $0.faults.disconnectAtFirstPartial = true; $0.faults.disconnectEveryTime = true }
        try await withEmulator(configuration) { emulator, port in
            for _ in 0..<2 {
                let (socket, _) = try await SpeechToText.start(port: port)
                for chunk in SpeechToText.chunks(try SpeechToText.coded("pay my bill")) { try? await socket.send(SpeechToText.message(chunk)) }
                #expect(await socket.next() == .ended)
            }
            #expect(emulator.counters.partialTranscriptsSent == 0)
            #expect(emulator.counters.injectedDisconnects == 2)
        }
    }

    @Test func aSlowCommitTakesAtLeastItsDelay() async throws {
        try await withEmulator(SpeechToText.configuration { $0.faults.commitDelayMs = 400 }) { _, port in
            let (socket, _) = try await SpeechToText.start(port: port)
            let chunks = SpeechToText.chunks(try SpeechToText.coded("pay my bill"))
            for chunk in chunks { try await socket.send(SpeechToText.message(chunk)) }
            let partials = await SpeechToText.messages(from: socket, through: "partial_transcript")
            #expect(partials.count == 1)
            _ = await socket.next()
            _ = await socket.next()  // "pay my", "pay my bill"
            let sent = ContinuousClock.now
            try await socket.send(SpeechToText.message([], commit: true))
            let committed = await SpeechToText.messages(from: socket, through: "committed_transcript")
            #expect(committed == [#"{"message_type":"committed_transcript","text":"pay my bill"}"#])
            #expect(ContinuousClock.now - sent >= .milliseconds(400))
        }
    }
}
