import ArgumentParser
import Foundation
import Logging
import VoiceBridgeEmulators
import VoiceBridgeSpeech

/// `voicebridge emulate …`: local stand-ins for the services the bridge talks to.
struct EmulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulate",
        abstract: "Run a local emulator of a service the bridge talks to.",
        subcommands: [ElevenLabsCommand.self, RelayAppCommand.self]
    )
}

extension EmulateCommand {
    /// `voicebridge emulate elevenlabs`: the ElevenLabs text-to-speech emulator.
    struct ElevenLabsCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "elevenlabs",
            abstract: "Emulate the ElevenLabs text-to-speech API (WebSocket stream-input and multi-stream-input, HTTP stream) and realtime speech-to-text.",
            discussion: """
                Speaks the real protocol on one port with the offline espeak voice. Output formats: \
                ulaw_8000 (byte-exact), alaw_8000, pcm_8000, pcm_16000; mp3, opus and PCM above 16 kHz \
                are refused as unsupported in the emulator.

                It also listens: ws://HOST:PORT/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&audio_format=ulaw_8000 \
                takes input_audio_chunk messages and answers with partial and committed transcripts. It \
                transcribes exactly the coded speech of `voicebridge call --say SECONDS:TEXT` \
                (docs/spoken-text-code.md); any other audio is heard as speech without words.
                """
        )

        @Option(help: "Address to listen on.")
        var host = "127.0.0.1"

        @Option(help: "Port to listen on (0: any free port, printed at start-up).")
        var port = 0

        @Option(name: .customLong("api-key"), help: "An accepted API key (repeatable). Default: \(ElevenLabsEmulatorConfiguration.defaultAPIKey).")
        var apiKeys: [String] = []

        @Flag(help: "Accept any non-empty API key.")
        var anyKey = false

        @Option(help: "Milliseconds of audio per message.")
        var chunkMs = 200

        @Option(help: "Delay before the first audio of each generation, in milliseconds.")
        var ttfbMs = 0

        @Option(help: "Streaming pace as a real-time factor (1: real time, 2: twice as fast, 0: as fast as synthesised).")
        var speed = 0.0

        @Option(help: "Drop the connection (no close frame) this many milliseconds after its first audio.")
        var disconnectAfterMs: Int?

        @Flag(help: "With --disconnect-after-ms: drop every connection, not only the first.")
        var disconnectEveryTime = false

        @Flag(help: "Refuse for quota: WebSocket close 1008 at the first generation, HTTP 401 quota_exceeded.")
        var quotaExceeded = false

        @Option(name: .customLong("http-429"), help: "The first N HTTP requests get 429 too_many_concurrent_requests.")
        var http429 = 0

        @Option(help: "The next N HTTP requests get 429 system_busy.")
        var systemBusy = 0

        @Option(name: .customLong("http-500"), help: "The next N HTTP requests (after the 429s) get 500.")
        var http500 = 0

        @Option(help: ArgumentHelp("Every HTTP request whose text contains this gets 500 (one prompt that keeps failing).", valueName: "text"))
        var failText: String?

        @Option(help: "The first N WebSockets close 1008 'something went wrong' at their first generation.")
        var wsServerError = 0

        @Flag(help: "Slow network: paced reads, writes cut into small delayed pieces.")
        var slow = false

        @Option(help: "Simultaneous contexts per multi-context socket.")
        var maxContexts = 5

        @Option(help: "Inactivity timeout in seconds when the client gives no inactivity_timeout.")
        var inactivityTimeout = 20.0

        @Option(help: "HTTP requests allowed in flight at once.")
        var maxConcurrentRequests = 5

        @Option(help: "Milliseconds a closed context keeps counting against the limit after its isFinal.")
        var contextCloseDelayMs = 0

        @Option(help: "Speech-to-text: milliseconds from the audio that completes a word to its partial_transcript.")
        var sttPartialLatencyMs = 150

        @Option(help: "Speech-to-text: milliseconds from a commit to its committed_transcript.")
        var sttCommitLatencyMs = 150

        @Option(help: "Speech-to-text: seconds without a client message before the socket is closed.")
        var sttIdleTimeout = 15.0

        @Flag(help: "Speech-to-text: every session gets quota_exceeded and a close at its first audio chunk.")
        var sttQuotaExceeded = false

        @Option(help: "Speech-to-text: the first N sessions get rate_limited and a close.")
        var sttRateLimited = 0

        @Option(help: "Speech-to-text: drop the connection (no close frame) once this many milliseconds of audio have arrived.")
        var sttDisconnectAfterAudioMs: Int?

        @Flag(help: "Speech-to-text: drop the connection instead of sending the first partial_transcript.")
        var sttDisconnectAtFirstPartial = false

        @Flag(help: "Speech-to-text: drop every session that reaches the point, not only the first.")
        var sttDisconnectEveryTime = false

        @Option(help: "Speech-to-text: extra milliseconds before every committed_transcript (slow commits).")
        var sttCommitDelayMs = 0

        @Option(help: "espeak-ng voice for the audio, or 'known': a synthetic voice with predictable bytes that costs almost nothing (for load tests, where espeak's one thread would be the limit).")
        var voice = "en-us"

        @Option(help: "The espeak-ng-data directory (default: espeak's own).")
        var espeakData: String?

        func validate() throws {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
            guard chunkMs > 0 else { throw ValidationError("--chunk-ms must be positive") }
            guard speed >= 0 else { throw ValidationError("--speed must be 0 or more") }
            guard inactivityTimeout > 0 else { throw ValidationError("--inactivity-timeout must be positive") }
            guard sttPartialLatencyMs >= 0, sttCommitLatencyMs >= 0, sttCommitDelayMs >= 0 else {
                throw ValidationError("--stt-partial-latency-ms, --stt-commit-latency-ms and --stt-commit-delay-ms must be 0 or more")
            }
            guard sttIdleTimeout > 0 else { throw ValidationError("--stt-idle-timeout must be positive") }
            guard sttRateLimited >= 0 else { throw ValidationError("--stt-rate-limited must be 0 or more") }
            if let sttDisconnectAfterAudioMs, sttDisconnectAfterAudioMs < 0 {
                throw ValidationError("--stt-disconnect-after-audio-ms must be 0 or more")
            }
        }

        var emulatorConfiguration: ElevenLabsEmulatorConfiguration {
            var keys = Set(apiKeys)
            if anyKey {
                keys = []
            } else if keys.isEmpty {
                keys = [ElevenLabsEmulatorConfiguration.defaultAPIKey]
            }
            return ElevenLabsEmulatorConfiguration(
                apiKeys: keys,
                chunkMs: chunkMs,
                maxContexts: maxContexts,
                inactivityTimeout: inactivityTimeout,
                contextCloseDelayMs: contextCloseDelayMs,
                maxConcurrentRequests: maxConcurrentRequests,
                faults: .init(
                    ttfbMs: ttfbMs,
                    speed: speed,
                    disconnectAfterMs: disconnectAfterMs,
                    disconnectEveryTime: disconnectEveryTime,
                    quotaExceeded: quotaExceeded,
                    http429Count: http429,
                    systemBusyCount: systemBusy,
                    http500Count: http500,
                    failTextContaining: failText,
                    webSocketServerErrorCount: wsServerError,
                    slow: slow
                ),
                speechToText: .init(
                    partialLatencyMs: sttPartialLatencyMs,
                    commitLatencyMs: sttCommitLatencyMs,
                    idleTimeoutSeconds: sttIdleTimeout,
                    // A long-running emulator keeps no audio: nothing reads it back.
                    recordsAudio: false,
                    faults: .init(
                        quotaExceeded: sttQuotaExceeded,
                        rateLimitedCount: sttRateLimited,
                        disconnectAfterAudioMs: sttDisconnectAfterAudioMs,
                        disconnectAtFirstPartial: sttDisconnectAtFirstPartial,
                        disconnectEveryTime: sttDisconnectEveryTime,
                        commitDelayMs: sttCommitDelayMs
                    )
                )
            )
        }

        func run() async throws {
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
            let configuration = emulatorConfiguration
            let speech: any SpeechSource
            if voice == "known" {
                speech = KnownVoice()
            } else {
                let offline = OfflineVoice(configuration: .init(voice: voice, dataPath: espeakData))
                try await offline.prepare()
                speech = offline
            }
            let emulator = ElevenLabsEmulator(configuration: configuration, speech: speech)
            let bound = try await emulator.start(host: host, port: port)
            // Only the built-in test key is shown: a key given on the command line may be a real
            // one, and secrets are never printed.
            let keys = configuration.apiKeys.isEmpty ? "any non-empty key"
                : configuration.apiKeys.map { $0 == ElevenLabsEmulatorConfiguration.defaultAPIKey ? $0 : "<as given with --api-key>" }.sorted().joined(separator: ", ")
            let banner = """
                ElevenLabs emulator on http://\(host):\(bound) (ws://\(host):\(bound)/v1/text-to-speech/{voice_id}/stream-input, multi-stream-input)
                Speech-to-text on ws://\(host):\(bound)/v1/speech-to-text/realtime
                API key: \(keys)

                """
            // Written straight away (not through a pipe's buffer) so scripts can wait for it.
            FileHandle.standardOutput.write(Data(banner.utf8))
            try await emulator.waitUntilStopped()
        }
    }
}

extension EmulateCommand {
    /// `voicebridge emulate relay-app`: an example ConversationRelay app for the bridge to dial.
    struct RelayAppCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "relay-app",
            abstract: "Run an example ConversationRelay app: it greets, answers keys with streamed replies and logs every message.",
            discussion: """
                Point the bridge at it with relay.url (or VOICEBRIDGE_RELAY_URL) = ws://HOST:PORT/relay. \
                It greets the caller when setup arrives, answers each key with a reply streamed one token \
                every --token-ms, stops on interrupt, and on # says goodbye and sends end. Every message it \
                receives is logged and checked strictly against the published protocol.
                """
        )

        @Option(help: "Address to listen on.")
        var host = "127.0.0.1"

        @Option(help: "Port to listen on (0: any free port, printed at start-up).")
        var port = 0

        @Option(help: "Milliseconds between streamed tokens.")
        var tokenMs = 30

        @Option(help: "Check X-Twilio-Signature with this token over --signed-url (default: TWILIO_AUTH_TOKEN when --signed-url is given).")
        var authToken: String?

        @Option(help: "The relay URL exactly as the bridge is configured with it, for the signature check.")
        var signedURL: String?

        func validate() throws {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
            guard tokenMs > 0 else { throw ValidationError("--token-ms must be positive") }
        }

        func run() async throws {
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
            var configuration = RelayAppConfiguration()
            configuration.tokenIntervalMs = tokenMs
            configuration.signedURL = signedURL
            configuration.authToken = authToken ?? (signedURL != nil ? ProcessInfo.processInfo.environment["TWILIO_AUTH_TOKEN"] : nil)
            let app = RelayAppEmulator(configuration: configuration)
            let bound = try await app.start(host: host, port: port)
            FileHandle.standardOutput.write(Data("Relay app on ws://\(host):\(bound)/relay\n".utf8))
            try await app.waitUntilStopped()
        }
    }
}
