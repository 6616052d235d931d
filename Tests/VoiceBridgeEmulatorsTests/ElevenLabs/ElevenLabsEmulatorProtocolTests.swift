import Testing
import VoiceBridgeEmulators

/// The wire texts and shapes, checked against shared/docs/elevenlabs.md without sockets.
@Suite struct ElevenLabsEmulatorProtocolTests {
    @Test func closeReasonsFitACloseFrame() {
        let reasons = [
            ElevenLabsEmulatorProtocol.inactivityReason(seconds: 180),
            ElevenLabsEmulatorProtocol.maxContextsMessage(limit: 5),
            ElevenLabsEmulatorProtocol.quotaReason(quota: 1_000_000, remaining: 12345, required: 99999),
            ElevenLabsEmulatorProtocol.voiceSettingsReason,
            ElevenLabsEmulatorProtocol.genericErrorReason,
        ]
        for reason in reasons {
            let wire = ElevenLabsEmulatorProtocol.wireReason(reason)
            #expect(wire.utf8.count <= 123)
            #expect(reason.hasPrefix(wire))
        }
        // Short reasons go whole.
        #expect(ElevenLabsEmulatorProtocol.wireReason(ElevenLabsEmulatorProtocol.voiceSettingsReason) == ElevenLabsEmulatorProtocol.voiceSettingsReason)
    }

    @Test func wireReasonNeverSplitsACharacter() {
        let reason = String(repeating: "a", count: 119) + "é and more"
        let wire = ElevenLabsEmulatorProtocol.wireReason(reason)
        #expect(wire == String(repeating: "a", count: 119))
    }

    @Test func finalAndErrorMessages() {
        #expect(ElevenLabsEmulatorProtocol.finalMessage(contextID: nil) == #"{"isFinal":true}"#)
        #expect(ElevenLabsEmulatorProtocol.finalMessage(contextID: "ctx \"1\"") == #"{"isFinal":true,"contextId":"ctx \"1\""}"#)
        #expect(ElevenLabsEmulatorProtocol.errorMessage(message: "m", error: "e", code: 1008) == #"{"message":"m","error":"e","code":1008}"#)
    }

    @Test func audioMessageWithoutAlignmentHasNulls() {
        #expect(ElevenLabsEmulatorProtocol.audioMessage(audioBase64: "AAAA", alignment: nil, contextID: "x")
            == #"{"audio":"AAAA","isFinal":null,"normalizedAlignment":null,"alignment":null,"contextId":"x"}"#)
    }

    @Test func timestampsAlignmentIsFloatSecondsFromTheResponseStart() {
        let alignment = ElevenLabsEmulatorAlignment(chars: ["a", "\""], startTimesMs: [0, 125], durationsMs: [125, 75])
        #expect(ElevenLabsEmulatorProtocol.timestampsLine(audioBase64: "", alignment: alignment, offsetMs: 1000)
            == #"{"audio_base64":"","alignment":{"characters":["a","\""],"character_start_times_seconds":[1.0,1.125],"character_end_times_seconds":[1.125,1.2]},"normalized_alignment":{"characters":["a","\""],"character_start_times_seconds":[1.0,1.125],"character_end_times_seconds":[1.125,1.2]}}"#)
    }

    @Test func validationBodyIsAnArray() {
        let body = ElevenLabsEmulatorProtocol.validationBody([.init(location: ["body", "text"], message: "Field required", type: "missing")])
        #expect(body == #"{"detail":[{"loc":["body","text"],"msg":"Field required","type":"missing"}]}"#)
    }

    @Test func outputFormats() {
        #expect(ElevenLabsEmulatorOutputFormat.parse("ulaw_8000") == .success(.ulaw8000))
        #expect(ElevenLabsEmulatorOutputFormat.parse("pcm_16000") == .success(.pcm16000))
        #expect(ElevenLabsEmulatorOutputFormat.parse("mp3_44100_128") == .failure(.unsupported("mp3_44100_128")))
        #expect(ElevenLabsEmulatorOutputFormat.parse("pcm_24000") == .failure(.unsupported("pcm_24000")))
        #expect(ElevenLabsEmulatorOutputFormat.parse("wav_8000") == .failure(.unknown("wav_8000")))
        #expect(ElevenLabsEmulatorOutputFormat.pcm16000.bytesPerMs == 32)
        #expect(ElevenLabsEmulatorOutputFormat.ulaw8000.bytesPerMs == 8)
    }

    @Test func configurationKeys() {
        #expect(ElevenLabsEmulatorConfiguration().accepts(apiKey: "test-key"))
        #expect(!ElevenLabsEmulatorConfiguration().accepts(apiKey: "other"))
        #expect(ElevenLabsEmulatorConfiguration(apiKeys: []).accepts(apiKey: "other"))
        #expect(!ElevenLabsEmulatorConfiguration(apiKeys: []).accepts(apiKey: ""))
    }
}
