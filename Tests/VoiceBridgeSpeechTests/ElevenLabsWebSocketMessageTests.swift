import Foundation
import Testing
import VoiceBridgeSpeech

/// Every message the WebSocket client sends, compared as whole JSON strings, and how it reads
/// what the service sends back.
@Suite struct ElevenLabsWebSocketMessageTests {
    @Test func initializationCarriesTheSettingsAndTheSchedule() throws {
        let settings = ElevenLabsVoiceSettings(stability: 0.5, similarityBoost: 0.75, style: 0, useSpeakerBoost: true, speed: 1.1)
        #expect(
            ElevenLabsWebSocketMessage.initialize(contextID: "ctx-1", voiceSettings: settings, schedule: .balanced).json
                == #"{"text":" ","context_id":"ctx-1","voice_settings":{"stability":0.5,"similarity_boost":0.75,"style":0,"use_speaker_boost":true,"speed":1.1},"generation_config":{"chunk_length_schedule":[120,160,250,290]}}"#
        )
        #expect(ElevenLabsWebSocketMessage.initialize(contextID: "ctx-2", voiceSettings: nil, schedule: nil).json == #"{"text":" ","context_id":"ctx-2"}"#)
        // Stream-input: no context id.
        #expect(
            ElevenLabsWebSocketMessage.initialize(contextID: nil, voiceSettings: .init(stability: 0.3), schedule: .speed).json
                == #"{"text":" ","voice_settings":{"stability":0.3},"generation_config":{"chunk_length_schedule":[50,75,100,150]}}"#
        )
    }

    @Test func textMessagesEndWithExactlyOneSpace() {
        #expect(ElevenLabsWebSocketMessage.text("Hello, ", contextID: "c", tryTriggerGeneration: true).json == #"{"text":"Hello, ","context_id":"c","try_trigger_generation":true}"#)
        #expect(ElevenLabsWebSocketMessage.text("world.", contextID: "c").json == #"{"text":"world. ","context_id":"c"}"#)
        #expect(ElevenLabsWebSocketMessage.text("end.  \n", contextID: "c", flush: true).json == #"{"text":"end. ","context_id":"c","flush":true}"#)
        #expect(ElevenLabsWebSocketMessage.text("Say \"hi\"\\now", contextID: nil).json == #"{"text":"Say \"hi\"\\now "}"#)
    }

    @Test func controlMessages() {
        #expect(ElevenLabsWebSocketMessage.flush(contextID: "c").json == #"{"text":"","context_id":"c","flush":true}"#)
        // On stream-input an empty text would end the stream: a flush carries a space instead.
        #expect(ElevenLabsWebSocketMessage.flush(contextID: nil).json == #"{"text":" ","flush":true}"#)
        #expect(ElevenLabsWebSocketMessage.keepAlive(contextID: "c").json == #"{"text":"","context_id":"c"}"#)
        #expect(ElevenLabsWebSocketMessage.keepAlive(contextID: nil).json == #"{"text":" "}"#)
        #expect(ElevenLabsWebSocketMessage.endOfInput.json == #"{"text":""}"#)
        #expect(ElevenLabsWebSocketMessage.closeContext(contextID: "c").json == #"{"context_id":"c","close_context":true}"#)
        #expect(ElevenLabsWebSocketMessage.closeSocket.json == #"{"close_socket":true}"#)
    }

    @Test func audioMessagesInEitherSpelling() throws {
        let audio: [UInt8] = [0xFF, 0x7F, 0x00, 0x12]
        let b64 = Data(audio).base64EncodedString()
        let live = try ElevenLabsWebSocketServerMessage(parsing: """
            {"audio":"\(b64)","isFinal":null,"normalizedAlignment":null,"alignment":{"chars":[" ","H","i"],"charStartTimesMs":[0,10,70],"charDurationsMs":[10,60,50]},"contextId":"ctx-3"}
            """)
        #expect(live.audio == audio)
        #expect(!live.isFinal)
        #expect(live.contextID == "ctx-3")
        #expect(live.alignment == Alignment(chars: [" ", "H", "i"], charStartTimesMs: [0, 10, 70], charDurationsMs: [10, 60, 50]))
        #expect(live.normalizedAlignment == nil)

        // The 2025 spec's spellings: charsDurationsMs, is_final, context_id, normalized_alignment.
        let spec = try ElevenLabsWebSocketServerMessage(parsing: """
            {"audio":"\(b64)","normalized_alignment":{"chars":["a"],"charStartTimesMs":[0],"charsDurationsMs":[40]},"context_id":"x"}
            """)
        #expect(spec.contextID == "x")
        #expect(spec.normalizedAlignment == Alignment(chars: ["a"], charStartTimesMs: [0], charDurationsMs: [40]))

        #expect(try ElevenLabsWebSocketServerMessage(parsing: #"{"isFinal":true,"contextId":"c"}"#).isFinal)
        #expect(try ElevenLabsWebSocketServerMessage(parsing: #"{"is_final":true,"context_id":"c"}"#) == .init(isFinal: true, contextID: "c"))
        #expect(throws: ElevenLabsWebSocketError.self) { _ = try ElevenLabsWebSocketServerMessage(parsing: "[1,2]") }
    }

    @Test func errorFramesAndCloseCodesBecomeTypedErrors() throws {
        let frame = try ElevenLabsWebSocketServerMessage(parsing: """
            {"message":"Maximum simultaneous contexts per WebSocket connection exceeded (5). Please close an existing context before opening a new one.","error":"max_active_conversations","code":1008}
            """)
        #expect(frame.isError)
        #expect(frame.error == "max_active_conversations")
        #expect(frame.code == 1008)
        guard case .tooManyContexts = ElevenLabsWebSocketError.fromClose(code: 1008, reason: "Maximum simultaneous contexts per WebSock", message: frame.message) else {
            Issue.record("not tooManyContexts")
            return
        }
        let cases: [(Int, String, ElevenLabsWebSocketError)] = [
            (1008, "Invalid API key", .invalidAPIKey("Invalid API key")),
            (1008, "This request exceeds your quota of 10000. You have 0 credits remaining, while 12 credits are required for this request.",
             .quotaExceeded("This request exceeds your quota of 10000. You have 0 credits remaining, while 12 credits are required for this request.")),
            (1008, "Have not received a new text input within the timeout of 20 seconds. Streaming input terminated. Please make sure to eit",
             .inactivityTimeout("Have not received a new text input within the timeout of 20 seconds. Streaming input terminated. Please make sure to eit")),
            (1008, "voice_settings field must be provided in the first message and then either be not provided or not change.",
             .voiceSettingsChanged("voice_settings field must be provided in the first message and then either be not provided or not change.")),
            (1008, "We are sorry, something went wrong. You are not charged for this request.",
             .serverError("We are sorry, something went wrong. You are not charged for this request.")),
            (1008, "Something else", .policyViolation("Something else")),
            (1009, "Message too big", .messageTooBig("Message too big")),
            (1011, "oops", .serverError("oops")),
            (4000, "odd", .closed(code: 4000, reason: "odd")),
        ]
        for (code, reason, expected) in cases {
            #expect(ElevenLabsWebSocketError.fromClose(code: code, reason: reason) == expected)
        }
        #expect(ElevenLabsWebSocketError.quotaExceeded("").isAuthenticationOrQuota)
        #expect(ElevenLabsWebSocketError.handshakeRefused(status: 401).isAuthenticationOrQuota)
        #expect(!ElevenLabsWebSocketError.quotaExceeded("").isRetryable)
        #expect(ElevenLabsWebSocketError.connectionLost("").isRetryable)
        #expect(ElevenLabsWebSocketError.inactivityTimeout("").isRetryable)
    }

    @Test func urlAndQueryCarryOnlyWhatIsSet() throws {
        var c = ElevenLabsWebSocketConfiguration(apiKey: "secret-key", voiceID: "v1")
        #expect(try c.target(.multiStreamInput).url
            == "wss://api.elevenlabs.io/v1/text-to-speech/v1/multi-stream-input?model_id=eleven_flash_v2_5&output_format=ulaw_8000&sync_alignment=true")
        c.baseURL = "http://127.0.0.1:8089/"
        c.syncAlignment = nil
        c.inactivityTimeout = 60
        c.autoMode = true
        c.applyTextNormalization = .off
        c.languageCode = "de"
        c.enableSSMLParsing = false
        c.enableLogging = false
        c.seed = 42
        let target = try c.target(.streamInput)
        #expect(!target.tls)
        #expect(target.port == 8089)
        #expect(target.hostHeader == "127.0.0.1:8089")
        #expect(target.url == "ws://127.0.0.1:8089/v1/text-to-speech/v1/stream-input?model_id=eleven_flash_v2_5&output_format=ulaw_8000"
            + "&inactivity_timeout=60&auto_mode=true&apply_text_normalization=off&language_code=de&enable_ssml_parsing=false&enable_logging=false&seed=42")
        c.baseURL = "https://eu.example.com:8443"
        #expect(try c.target(.multiStreamInput).url.hasPrefix("wss://eu.example.com:8443/v1/"))
        c.baseURL = "ftp://x"
        #expect(throws: ElevenLabsWebSocketError.self) { _ = try c.target(.multiStreamInput) }
        // The key is in no URL and no description.
        #expect(!"\(c)".contains("secret-key"))
        #expect(!String(reflecting: c).contains("secret-key"))
    }

    @Test func configurationIsValidated() throws {
        var c = ElevenLabsWebSocketConfiguration(apiKey: "k")
        _ = try c.validated()
        c.keepAliveInterval = .seconds(15)  // 1.5 × 15 s is past the default 20 s timeout.
        #expect(throws: ElevenLabsWebSocketError.self) { _ = try c.validated() }
        c.inactivityTimeout = 60
        _ = try c.validated()
        c.inactivityTimeout = 181
        #expect(throws: ElevenLabsWebSocketError.self) { _ = try c.validated() }
        c = ElevenLabsWebSocketConfiguration(apiKey: "  ")
        #expect(throws: ElevenLabsWebSocketError.self) { _ = try c.validated() }
    }

    @Test func schedulesArePresetsOrCheckedNumbers() throws {
        #expect(try ElevenLabsChunkSchedule(parsing: "speed").values == [50, 75, 100, 150])
        #expect(try ElevenLabsChunkSchedule(parsing: "Balanced").values == [120, 160, 250, 290])
        #expect(try ElevenLabsChunkSchedule(parsing: "quality").values == [250, 350, 450, 500])
        #expect(try ElevenLabsChunkSchedule(parsing: "dialogue").values == [80, 120, 160, 200])
        #expect(try ElevenLabsChunkSchedule(parsing: "narration").values == [200, 280, 350, 400])
        #expect(try ElevenLabsChunkSchedule(parsing: "50, 90,500").values == [50, 90, 500])
        #expect(throws: ElevenLabsWebSocketError.self) { _ = try ElevenLabsChunkSchedule([49]) }
        #expect(throws: ElevenLabsWebSocketError.self) { _ = try ElevenLabsChunkSchedule([120, 501]) }
        #expect(throws: ElevenLabsWebSocketError.self) { _ = try ElevenLabsChunkSchedule([]) }
        #expect(throws: ElevenLabsWebSocketError.self) { _ = try ElevenLabsChunkSchedule(parsing: "fast") }
    }

    /// The in-place scanner: nulls, escapes, unknown keys, fractional timings, and bad input.
    @Test func serverMessagesAreScannedWithoutATree() throws {
        let m = try ElevenLabsWebSocketServerMessage(parsing:
            #"{"audio":"/39/","is_final":null,"contextId":"ctx\u002d1","extra":{"x":[1,{"y":null}]},"#
            + #""alignment":{"chars":["H","\"","é"],"charStartTimesMs":[0,12.0,24],"charsDurationsMs":[12,12,12]},"#
            + #""normalizedAlignment":null}"#)
        #expect(m.audio == [0xFF, 0x7F, 0x7F])
        #expect(!m.isFinal)
        #expect(m.contextID == "ctx-1")
        #expect(m.alignment == Alignment(chars: ["H", "\"", "é"], charStartTimesMs: [0, 12, 24], charDurationsMs: [12, 12, 12]))
        #expect(m.normalizedAlignment == nil)
        for bad in [#"{"audio":"@@@@"}"#, #"{"audio":1}"#, #"{"isFinal":"yes"}"#, #"{"audio":"AAAA""#, #"[1]"#, "",
                    #"{"alignment":{"chars":["a"],"charStartTimesMs":[],"charDurationsMs":[1]}}"#, #"{"a":1} x"#] {
            #expect(throws: ElevenLabsWebSocketError.self, "\(bad)") { _ = try ElevenLabsWebSocketServerMessage(parsing: bad) }
        }
    }
}
