import Foundation
import Testing
import VoiceBridgeRelay
import VoiceBridgeSpeech
@testable import VoiceBridgeServer

/// The `elevenlabs` section, its environment variables, and what the server makes of them.
@Suite struct ElevenLabsConfigurationTests {
    @Test func offWithoutAKey() throws {
        let c = try BridgeConfiguration.load(path: nil, environment: [:])
        #expect(c.elevenLabsAPIKey == nil)
        #expect(try c.elevenLabsWebSocketConfiguration() == nil)
        #expect(c.elevenLabsHTTPConfiguration == nil)
        #expect(c.logSummary["speech"] == "offline voice en-us")
    }

    @Test func theYAMLSectionAndTheEnvironment() throws {
        var c = BridgeConfiguration()
        try c.apply(yaml: """
            elevenlabs:
              api_key: from-file
              base_url: https://eu.example.com
              voice_id: voiceX
              model: eleven_turbo_v2_5
              schedule: [50, 90, 200]
              stability: 0.4
              similarity_boost: ""
              use_speaker_boost: false
              speed: 1.1
              ca_file: /tmp/ca.pem
              inactivity_timeout: 60
              keep_alive_seconds: 15
              breaker_cooldown_seconds: 5
            """)
        let ws = try #require(try c.elevenLabsWebSocketConfiguration())
        #expect(ws.apiKey == "from-file")
        #expect(try ws.target(.multiStreamInput).url
            == "wss://eu.example.com/v1/text-to-speech/voiceX/multi-stream-input?model_id=eleven_turbo_v2_5&output_format=ulaw_8000&inactivity_timeout=60&sync_alignment=true")
        #expect(ws.schedule.values == [50, 90, 200])
        #expect(ws.voiceSettings == ElevenLabsVoiceSettings(stability: 0.4, useSpeakerBoost: false, speed: 1.1))
        #expect(ws.caFilePath == "/tmp/ca.pem")
        #expect(ws.keepAliveInterval == .seconds(15))
        #expect(c.elevenLabsBreakerCooldownSeconds == 5)
        let http = try #require(c.elevenLabsHTTPConfiguration)
        #expect(http.voiceID == "voiceX")
        #expect(http.caBundlePath == "/tmp/ca.pem")

        try c.apply(environment: [
            "ELEVENLABS_API_KEY": "from-env", "ELEVENLABS_BASE_URL": "http://127.0.0.1:9999",
            "ELEVENLABS_VOICE_ID": "voiceY", "ELEVENLABS_CA_BUNDLE": "/tmp/other.pem",
        ])
        let overridden = try #require(try c.elevenLabsWebSocketConfiguration())
        #expect(overridden.apiKey == "from-env")
        #expect(try overridden.target(.multiStreamInput).url.hasPrefix("ws://127.0.0.1:9999/v1/text-to-speech/voiceY/"))
        #expect(overridden.caFilePath == "/tmp/other.pem")
        // The key is never in the summary.
        #expect(!c.logSummary.values.contains { $0.contains("from-env") })
        #expect(c.logSummary["elevenLabsAPIKey"] == "set")
    }

    @Test func theOlderVoiceKeyStillWorks() throws {
        var c = BridgeConfiguration()
        try c.apply(yaml: "voice:\n  elevenlabs_api_key: legacy\n")
        #expect(c.elevenLabsAPIKey == "legacy")
    }

    @Test func badValuesAreRefusedWithTheirKey() throws {
        var c = BridgeConfiguration()
        c.elevenLabsAPIKey = "k"
        c.elevenLabsSchedule = "40,100"
        #expect(throws: ConfigurationError.self) { _ = try c.validated() }
        c.elevenLabsSchedule = "turbo"
        #expect(throws: ConfigurationError.self) { _ = try c.validated() }
        c.elevenLabsSchedule = "speed"
        c.elevenLabsKeepAliveSeconds = 19  // Past two thirds of the 20 s timeout.
        #expect(throws: ConfigurationError.self) { _ = try c.validated() }
        var d = BridgeConfiguration()
        #expect(throws: ConfigurationError.self) { try d.apply(yaml: "elevenlabs:\n  stability: 2\n") }
        #expect(throws: ConfigurationError.self) { try d.apply(yaml: "elevenlabs:\n  speed: 2\n") }
        #expect(throws: ConfigurationError.self) { try d.apply(yaml: "elevenlabs:\n  voice: x\n") }
    }

    @Test func speechToTextCommitsAndTheRelaysSpeechTimeout() throws {
        var c = BridgeConfiguration()
        #expect(c.elevenLabsSpeechToTextCommit == "manual")
        try c.apply(yaml: """
            elevenlabs:
              speech_to_text_commit: vad
              speech_to_text_vad_silence_seconds: 0.8
              speech_to_text_vad_threshold: 0.5
            relay:
              speech_timeout_ms: 1200
            """)
        #expect(c.elevenLabsSpeechToTextCommit == "vad")
        #expect(c.elevenLabsSpeechToTextVADSilenceSeconds == 0.8)
        #expect(c.elevenLabsSpeechToTextVADThreshold == 0.5)
        #expect(c.relayConfiguration(url: "ws://app").speechTimeoutMs == 1200)
        #expect(BridgeConfiguration().relayConfiguration(url: "ws://app").speechTimeoutMs == nil)
        var d = BridgeConfiguration()
        #expect(throws: ConfigurationError.self) { try d.apply(yaml: "elevenlabs:\n  speech_to_text_commit: auto\n") }
        #expect(throws: ConfigurationError.self) { try d.apply(yaml: "elevenlabs:\n  speech_to_text_vad_silence_seconds: 5\n") }
        #expect(throws: ConfigurationError.self) { try d.apply(yaml: "elevenlabs:\n  speech_to_text_vad_threshold: 0.95\n") }
        #expect(throws: ConfigurationError.self) { try d.apply(yaml: "relay:\n  speech_timeout_ms: 50\n") }
    }

    /// Yams reads base-60 integers with trapping arithmetic; the config reads them as text, so
    /// such a value is refused with its key instead of stopping the process.
    @Test func aBaseSixtyNumberIsRefusedNotATrap() throws {
        for value in ["99999999999999999:00", "1:0:0:0:0:0:0:0:0:0:0:0", "1:30"] {
            var c = BridgeConfiguration()
            #expect(throws: ConfigurationError.self) { try c.apply(yaml: "server:\n  listen_backlog: \(value)\n") }
            #expect(throws: ConfigurationError.self) { try c.apply(yaml: "server:\n  drain_seconds: \(value)\n") }
        }
        // Numbers that would overflow their conversion to a Duration are refused with their key.
        for (section, key, value) in [
            ("elevenlabs", "keep_alive_seconds", "1e300"), ("server", "drain_seconds", ".inf"), ("elevenlabs", "breaker_cooldown_seconds", ".nan"),
            ("pacing", "lead_ms", "99999999999999"), ("elevenlabs", "inactivity_timeout", "1e300"), ("elevenlabs", "inactivity_timeout", "0.5"),
        ] {
            var c = BridgeConfiguration()
            do {
                try c.apply(yaml: "\(section):\n  \(key): \(value)\n")
                Issue.record("accepted \(section).\(key): \(value)")
            } catch {
                #expect(error.description.contains("\(section).\(key) must be"), "\(error)")
            }
        }
        var c = BridgeConfiguration()
        try c.apply(yaml: "server:\n  listen_backlog: 0x100\n  drain_seconds: 1_0\n")
        #expect(c.listenBacklog == 256)
        #expect(c.drainSeconds == 10)
    }

    @Test func theShippedConfigFileParses() throws {
        let path = #filePath.replacingOccurrences(of: "Tests/VoiceBridgeServerTests/ElevenLabsConfigurationTests.swift", with: "config/voicebridge.yaml")
        let c = try BridgeConfiguration.load(path: path, environment: [:])
        #expect(c.elevenLabsAPIKey == nil)
        #expect(c.elevenLabsSchedule == "balanced")
        #expect(c.elevenLabsVoiceSettings == nil)
        #expect(c.elevenLabsInactivityTimeoutSeconds == nil)
    }
}
