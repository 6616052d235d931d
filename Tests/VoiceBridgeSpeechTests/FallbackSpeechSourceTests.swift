import Foundation
import Synchronization
import Testing
import VoiceBridgeEmulators
import VoiceBridgeSpeech

/// WebSocket → HTTP → offline against the emulator: nothing the flow asked to say is lost or said
/// twice, and a call carries on when ElevenLabs refuses it.
@Suite(.timeLimit(.minutes(2)))
struct FallbackSpeechSourceTests {
    final class FallbackLog: Sendable {
        private let entries = Mutex<[FallbackSpeechSource.Fallback]>([])
        func append(_ f: FallbackSpeechSource.Fallback) { entries.withLock { $0.append(f) } }
        var all: [FallbackSpeechSource.Fallback] { entries.withLock { $0 } }
    }

    static func http(port: Int, key: String = ElevenLabsEmulatorConfiguration.defaultAPIKey) -> ElevenLabsHTTPSpeechSource {
        ElevenLabsHTTPSpeechSource(
            configuration: .init(apiKey: key, baseURL: "http://127.0.0.1:\(port)", voiceID: "voice1"),
            logger: quietLogger("http")
        )
    }

    @Test func quotaFallsBackToTheOfflineVoiceAndLaterTurnsGoStraightThere() async throws {
        var configuration = ElevenLabsEmulatorConfiguration()
        configuration.faults.quotaExceeded = true
        try await withElevenLabsEmulator(configuration) { emulator, port in
            let offline = KnownVoice(name: "offline", msPerCharacter: 5)
            let log = FallbackLog()
            let chain = FallbackSpeechSource(
                [try webSocketSource(port: port), Self.http(port: port), offline], logger: quietLogger("fallback"), onFallback: log.append
            )
            defer { chain.close() }
            let text = "Welcome to the bridge."
            let started = ContinuousClock.now
            let turn = chain.speak(text, options: TurnOptions(id: "1"))
            var iterator = turn.chunks.makeAsyncIterator()
            var chunks = [try #require(try await iterator.next())]
            let firstAudio = ContinuousClock.now - started
            while let chunk = try await iterator.next() { chunks.append(chunk) }
            print("quota → offline: first audio after \(firstAudio)")
            #expect(firstAudio < .seconds(5))  // Measured well under 500 ms; see Benchmarks.

            #expect(offline.texts == [text])
            #expect(chunks.flatMap(\.audio) == offline.audio(for: text))
            #expect(chunks.allSatisfy { $0.turnID == "1" })
            let fallbacks = log.all
            #expect(fallbacks.map(\.from) == ["elevenlabs-ws", "elevenlabs-http"])
            #expect(fallbacks.map(\.to) == ["elevenlabs-http", "offline"])
            #expect(fallbacks.allSatisfy { !$0.afterAudio && $0.trippedBreaker && $0.remainingCharacters == text.count })
            #expect(chain.fallbackCount == 2)

            // The breaker: the call's next turn goes straight to the voice that works.
            let requests = emulator.requests.count
            let second = try await allChunks(chain.speak("Still here.", options: TurnOptions(id: "2")))
            #expect(second.flatMap(\.audio) == offline.audio(for: "Still here."))
            #expect(offline.texts == [text, "Still here."])
            #expect(emulator.requests.count == requests, "no request to ElevenLabs while the breaker is open")
            #expect(chain.availableSources == [2])
        }
    }

    @Test func streamedTextAfterABadKeyReachesTheNextSourceWhole() async throws {
        try await withElevenLabsEmulator { _, port in
            let offline = KnownVoice(name: "offline", msPerCharacter: 5)
            let ws = try webSocketSource(port: port) { $0.apiKey = "wrong" }
            let chain = FallbackSpeechSource([ws, Self.http(port: port, key: "wrong"), offline], logger: quietLogger("fallback"))
            defer { chain.close() }
            let turn = chain.startTurn(TurnOptions(id: "1"))
            turn.send(text: "Hello, ")
            try await Task.sleep(for: .milliseconds(100))
            turn.send(text: "world. How are ")
            turn.send(text: "you?")
            turn.finish()
            let chunks = try await allChunks(turn)
            #expect(offline.texts == ["Hello, world. How are you?"])
            #expect(chunks.flatMap(\.audio) == offline.audio(for: "Hello, world. How are you?"))
        }
    }

    @Test func aFailureAfterSomeAudioHandsOnlyTheUnspokenRestOn() async throws {
        let voice = KnownVoice()
        var configuration = ElevenLabsEmulatorConfiguration()
        configuration.faults.speed = 1
        configuration.faults.disconnectAfterMs = 300
        configuration.faults.disconnectEveryTime = true
        try await withElevenLabsEmulator(configuration, voice: voice) { _, port in
            let offline = KnownVoice(name: "offline", msPerCharacter: 5)
            let ws = try webSocketSource(port: port) { $0.reconnect = ElevenLabsRetryPolicy(maxRetries: 0) }
            let log = FallbackLog()
            let chain = FallbackSpeechSource([ws, offline], logger: quietLogger("fallback"), onFallback: log.append)
            defer { chain.close() }
            let text = "The quick brown fox jumps over the lazy dog."
            let chunks = try await allChunks(chain.speak(text, options: TurnOptions(id: "1")))

            // The socket's chunks come first, then the offline voice's, whose alignment is the rest.
            let rest = try #require(offline.texts.first)
            let all = alignedText(chunks)
            #expect(all.hasSuffix(rest))
            let spoken = String(all.dropLast(rest.count))
            #expect(!spoken.isEmpty)
            #expect(rest == String(text.dropFirst(spoken.count).drop(while: \.isWhitespace)))
            #expect(voice.texts == [text + " "])
            // Together: the whole text once.
            #expect((spoken + rest).filter { !$0.isWhitespace } == text.filter { !$0.isWhitespace })
            let fallback = try #require(log.all.first)
            #expect(fallback.afterAudio)
            #expect(!fallback.trippedBreaker, "a drop is no reason to skip the socket next time")
            #expect(fallback.remainingCharacters == rest.count)
        }
    }
}
