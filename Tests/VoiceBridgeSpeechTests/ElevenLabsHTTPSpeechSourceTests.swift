import Foundation
import Testing
import VoiceBridgeSpeech

/// `ElevenLabsHTTPSpeechSource` turns against the loopback server speaking with-timestamps NDJSON.
@Suite(.timeLimit(.minutes(1)))
struct ElevenLabsHTTPSpeechSourceTests {
    static let key = "sk_source_0a1b2c3d"

    func source(_ server: TestSpeechServer, retry: ElevenLabsRetryPolicy = .fast()) -> ElevenLabsHTTPSpeechSource {
        ElevenLabsHTTPSpeechSource(configuration: .init(apiKey: Self.key, baseURL: server.baseURL, retry: retry), logger: LogCapture().logger)
    }

    /// The server speaks whatever text each request carries.
    static func echo(perLine: Int = 6, gap: Duration = .zero, relative: Bool = false) -> TestSpeechServer.Handler {
        { request, responder in
            let text = request.json?["text"] as? String ?? ""
            await ElevenLabsReply.timestamped(responder, text: text, perLine: perLine, gap: gap, relative: relative)
        }
    }

    @Test(arguments: [false, true])
    func aTurnYieldsTheServicesMuLawWithChunkRelativeAlignment(relativeTimes: Bool) async throws {
        let server = try await TestSpeechServer.start(Self.echo(gap: .milliseconds(10), relative: relativeTimes))
        defer { Task { await server.shutdown() } }

        let text = "Hello there. How are you today?"
        let source = source(server)
        #expect(source.name == "elevenlabs-http")
        let chunks = try await collect(source.speak(text, options: TurnOptions(id: "t1")))

        #expect(chunks.allSatisfy { $0.turnID == "t1" })
        #expect(chunks.flatMap(\.audio) == ElevenLabsReply.audio(for: text), "μ-law passed through byte for byte")
        #expect(chunks.count == 6)
        #expect(chunks.compactMap(\.alignment).flatMap(\.chars).joined() == text)
        // Whatever the service's time base, each chunk's timings start at its own beginning:
        // 5 ms per character here.
        for chunk in chunks {
            let alignment = try #require(chunk.alignment)
            #expect(alignment.charStartTimesMs == alignment.chars.indices.map { $0 * 5 })
            #expect(alignment.charDurationsMs.allSatisfy { $0 == 5 })
        }

        // The whole text arrived before the request: one request, in the telephony format.
        #expect(server.requests.count == 1)
        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/text-to-speech/\(ElevenLabsSpeechRequest.defaultVoiceID)/stream/with-timestamps")
        #expect(request.query == ["output_format": "ulaw_8000"])
        #expect(request.header("xi-api-key") == Self.key)
        let body = try #require(request.json)
        #expect(Set(body.keys) == ["text", "model_id"])
        #expect(body["model_id"] as? String == "eleven_flash_v2_5")
    }

    @Test func streamedTextIsRequestedAsSentencesCompleteAndSpeaksBeforeTheTurnIsFinished() async throws {
        let server = try await TestSpeechServer.start(Self.echo(perLine: 4, gap: .milliseconds(15)))
        defer { Task { await server.shutdown() } }

        let turn = source(server).startTurn(TurnOptions(id: "streamed"))
        let (firstChunk, firstChunkArrived) = AsyncStream.makeStream(of: Void.self)
        let consumer = Task {
            var chunks: [SpeechChunk] = []
            for try await chunk in turn.chunks {
                if chunks.isEmpty { firstChunkArrived.yield() }
                chunks.append(chunk)
            }
            return chunks
        }
        for token in ["Hello", " there", ".", " How"] { turn.send(text: token) }
        // "Hello there." is complete once the space after it arrives: it goes out alone, and
        // speaks while the rest of the reply is still being written.
        #expect(await server.waitForRequests(1))
        for await _ in firstChunk { break }
        for token in [" are", " you", "?", " Fine", ",", " thanks", "."] { turn.send(text: token) }
        turn.finish()
        let chunks = try await consumer.value

        let text = "Hello there. How are you? Fine, thanks."
        let requests = server.requests
        let texts = requests.compactMap { $0.json?["text"] as? String }
        #expect(texts.first == "Hello there.")
        #expect(texts.joined() == text)
        #expect(requests.first?.json?["previous_text"] == nil)
        for (index, request) in requests.enumerated().dropFirst() {
            #expect(request.json?["previous_text"] as? String == texts[..<index].joined(), "request \(index) continues the turn")
        }
        #expect(chunks.flatMap(\.audio) == ElevenLabsReply.audio(for: text))
        #expect(chunks.compactMap(\.alignment).flatMap(\.chars).joined() == text)
    }

    @Test func cancelMidTurnAbortsTheTransferAndEndsTheChunks() async throws {
        let server = try await TestSpeechServer.start(Self.echo(perLine: 2, gap: .milliseconds(30)))
        defer { Task { await server.shutdown() } }

        let story = String(repeating: "A long sentence that keeps on going. ", count: 20)
        let turn = source(server).speak(story, options: TurnOptions(id: "barge"))
        var received = 0
        for try await _ in turn.chunks {  // Ends without throwing.
            received += 1
            turn.cancel()
            turn.cancel()  // Idempotent.
        }
        #expect(received == 1, "nothing reaches the consumer after cancel()")
        let connection = try #require(server.requests.first?.connection)
        #expect(await server.waitForClose(of: connection), "the transfer was aborted midway")

        turn.send(text: "More words. ")
        turn.finish()
        var late = 0
        for try await _ in turn.chunks { late += 1 }
        #expect(late == 0)
        #expect(server.requests.count == 1)
    }

    @Test func anUpstreamRefusalEndsTheTurnWithTheTypedError() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.error(responder, status: 401, code: "quota_exceeded", message: "This request exceeds your quota.")
        }
        defer { Task { await server.shutdown() } }

        let turn = source(server).speak("Hello.", options: TurnOptions(id: "t"))
        var chunks = 0
        await #expect {
            for try await _ in turn.chunks { chunks += 1 }
        } throws: { error in
            if case .quotaExceeded = error as? ElevenLabsHTTPError { return true }
            return false
        }
        #expect(chunks == 0, "an error body is never audio")
    }

    @Test func turnOptionsOverrideVoiceModelAndLanguage() async throws {
        let server = try await TestSpeechServer.start(Self.echo())
        defer { Task { await server.shutdown() } }
        let source = source(server)

        _ = try await collect(source.speak("Bonjour.", options: TurnOptions(id: "a", voice: "voice-fr", model: "eleven_turbo_v2_5", language: "fr-CA")))
        _ = try await collect(source.speak("Hallo.", options: TurnOptions(id: "b", model: "eleven_multilingual_v2", language: "de")))
        let requests = server.requests
        #expect(requests.count == 2)
        #expect(requests[0].path == "/v1/text-to-speech/voice-fr/stream/with-timestamps")
        #expect(requests[0].json?["model_id"] as? String == "eleven_turbo_v2_5")
        #expect(requests[0].json?["language_code"] as? String == "fr")
        // Multilingual v2 doesn't take language_code: it isn't sent.
        #expect(requests[1].json?["model_id"] as? String == "eleven_multilingual_v2")
        #expect(requests[1].json?["language_code"] == nil)
    }

    @Test func timingsWithoutAudioWaitForTheNextChunk() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            let lines = [
                ElevenLabsReply.line(audio: [], characters: ["H"], starts: [0], ends: [0.05]),
                ElevenLabsReply.line(audio: testBytes(800), characters: ["i"], starts: [0.05], ends: [0.1]),
                ElevenLabsReply.line(audio: testBytes(400, seed: 1), characters: nil),
                ElevenLabsReply.line(audio: testBytes(400, seed: 2), characters: ["!"], starts: [0.15], ends: [0.2]),
            ]
            await ElevenLabsReply.audio(responder, lines.map { Array($0.utf8) })
        }
        defer { Task { await server.shutdown() } }

        let chunks = try await collect(source(server).speak("Hi!", options: TurnOptions(id: "t")))
        #expect(chunks.map(\.audio) == [testBytes(800), testBytes(400, seed: 1), testBytes(400, seed: 2)])
        #expect(chunks[0].alignment == Alignment(chars: ["H", "i"], charStartTimesMs: [0, 50], charDurationsMs: [50, 50]))
        #expect(chunks[1].alignment == nil)
        // 150 ms from the start of the response is 0 ms into the third chunk (after 100 + 50 ms of audio).
        #expect(chunks[2].alignment == Alignment(chars: ["!"], charStartTimesMs: [0], charDurationsMs: [50]))
    }

    @Test func configurationComesFromTheEnvironmentAndHidesTheKey() throws {
        let configuration = try ElevenLabsHTTPSpeechSource.Configuration.fromEnvironment([
            "ELEVENLABS_API_KEY": Self.key, "ELEVENLABS_BASE_URL": "http://127.0.0.1:8089",
        ])
        #expect(configuration.baseURL == "http://127.0.0.1:8089")
        #expect(configuration.voiceID == ElevenLabsSpeechRequest.defaultVoiceID)
        #expect(configuration.modelID == "eleven_flash_v2_5")
        #expect(!"\(configuration)".contains(Self.key))
        #expect(!String(reflecting: configuration).contains(Self.key))
    }

    private func collect(_ turn: any SpeechTurn) async throws -> [SpeechChunk] {
        var chunks: [SpeechChunk] = []
        for try await chunk in turn.chunks { chunks.append(chunk) }
        return chunks
    }
}
