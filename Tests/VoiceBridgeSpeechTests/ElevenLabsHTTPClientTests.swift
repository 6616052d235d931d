import Foundation
import Synchronization
import Testing
import VoiceBridgeSpeech

/// The ElevenLabs HTTP client against a loopback server that answers as docs/elevenlabs.md §3
/// and §6 describe.
@Suite(.timeLimit(.minutes(1)))
struct ElevenLabsHTTPClientTests {
    static let key = "sk_test_5f2b9c0d1e2f3a4b"

    func client(_ server: TestSpeechServer, retry: ElevenLabsRetryPolicy = .fast(), logger: LogCapture? = nil) -> ElevenLabsHTTPClient {
        let configuration = ElevenLabsHTTPClient.Configuration(apiKey: Self.key, baseURL: server.baseURL + "/", retry: retry)
        return ElevenLabsHTTPClient(configuration: configuration, logger: (logger ?? LogCapture()).logger)
    }

    // MARK: - Request and response

    @Test func audioIsPassedThroughUntouchedInOrderAsItArrives() async throws {
        // Bytes that would upset a decoder or a JSON sniffer: '{', quotes, NULs, 0xFF silence.
        let pieces = [Array(#"{"detail":"#.utf8), [0, 0, 0xFF, 0x7F]] + (0..<6).map { testBytes(480, seed: $0) }
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.audio(responder, pieces, gap: .milliseconds(60))
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server).stream(ElevenLabsSpeechRequest(text: "Hello there.")))
        let end = ContinuousClock.now
        #expect(result.error == nil)
        #expect(result.audio.flatMap(\.item) == pieces.flatMap { $0 })
        #expect(result.audio.count >= 4, "\(result.audio.count) pieces: audio must stream, not arrive at the end")
        #expect(end - result.audio[0].at > .milliseconds(250))

        let info = try #require(result.responses.first)
        #expect(result.responses.count == 1)
        #expect(info.status == 200)
        #expect(info.requestID == "req-7f3a")
        #expect(info.characterCost == 42)
        #expect(info.currentConcurrentRequests == 1)
        #expect(info.maximumConcurrentRequests == 5)
        #expect(info.traceID == "trace-9")
        #expect(info.attempts == 1)
    }

    @Test func aMinimalRequestSendsTheKeyTheFormatAndOnlyTextAndModel() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.audio(responder, [[1, 2, 3]])
        }
        defer { Task { await server.shutdown() } }

        _ = await collect(client(server).stream(ElevenLabsSpeechRequest(text: "Hello there.", voiceID: "voice-1")))
        let request = try #require(server.requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/v1/text-to-speech/voice-1/stream")
        #expect(request.query == ["output_format": "ulaw_8000"])
        #expect(request.header("xi-api-key") == Self.key)
        #expect(request.header("content-type") == "application/json")
        #expect(String(decoding: request.body, as: UTF8.self) == #"{"model_id":"eleven_flash_v2_5","text":"Hello there."}"#)
    }

    @Test func everyOptionalFieldGoesWhereTheDocSays() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.timestamped(responder, text: "Hi.")
        }
        defer { Task { await server.shutdown() } }

        let request = ElevenLabsSpeechRequest(
            text: "Second sentence.", voiceID: "v/../x", modelID: "eleven_turbo_v2_5", outputFormat: .pcm16000,
            optimizeStreamingLatency: 3,
            voiceSettings: ElevenLabsVoiceSettings(stability: 0.4, similarityBoost: 0.8, style: 0, useSpeakerBoost: false, speed: 1.1),
            previousText: "First sentence.", nextText: "Third sentence.", seed: 4_294_967_295, languageCode: "de"
        )
        _ = await collect(client(server).streamWithTimestamps(request))
        let seen = try #require(server.requests.first)
        // The voice id is one path segment, whatever it contains.
        #expect(seen.path == "/v1/text-to-speech/v%2F..%2Fx/stream/with-timestamps")
        #expect(seen.query == ["output_format": "pcm_16000", "optimize_streaming_latency": "3"])
        let body = try #require(seen.json)
        #expect(Set(body.keys) == ["text", "model_id", "voice_settings", "previous_text", "next_text", "seed", "language_code"])
        #expect(body["text"] as? String == "Second sentence.")
        #expect(body["model_id"] as? String == "eleven_turbo_v2_5")
        #expect(body["previous_text"] as? String == "First sentence.")
        #expect(body["next_text"] as? String == "Third sentence.")
        #expect((body["seed"] as? NSNumber)?.uint32Value == 4_294_967_295)
        #expect(body["language_code"] as? String == "de")
        let settings = try #require(body["voice_settings"] as? [String: Any])
        #expect(Set(settings.keys) == ["stability", "similarity_boost", "style", "use_speaker_boost", "speed"])
        #expect(settings["stability"] as? Double == 0.4)
        #expect(settings["similarity_boost"] as? Double == 0.8)
        #expect(settings["style"] as? Double == 0)
        #expect(settings["use_speaker_boost"] as? Bool == false)
        #expect(settings["speed"] as? Double == 1.1)

        // Partial settings: only the fields set.
        let partial = ElevenLabsSpeechRequest(text: "x", voiceSettings: ElevenLabsVoiceSettings(speed: 0.9))
        #expect(String(decoding: partial.jsonBody(), as: UTF8.self) == #"{"model_id":"eleven_flash_v2_5","text":"x","voice_settings":{"speed":0.9}}"#)
    }

    @Test func timestampLinesAreDecodedWhereverTheNetworkCutsThem() async throws {
        let lines = [
            ElevenLabsReply.line(audio: testBytes(800, seed: 1), characters: ["H", "i"], starts: [0, 0.05], ends: [0.05, 0.1]),
            ElevenLabsReply.line(audio: testBytes(333, seed: 2), characters: nil),
            ElevenLabsReply.line(audio: testBytes(1200, seed: 3), characters: [" ", "y", "o", "u"], starts: [0.1, 0.12, 0.15, 0.18], ends: [0.12, 0.15, 0.18, 0.25]),
        ]
        // Split the body into 97-byte pieces, and drop the final newline: the last line ends at EOF.
        var body = Array(lines.joined().utf8)
        body.removeLast()
        let pieces = stride(from: 0, to: body.count, by: 97).map { Array(body[$0..<min($0 + 97, body.count)]) }
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.audio(responder, pieces, headers: [("content-type", "application/x-ndjson")])
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server).streamWithTimestamps(ElevenLabsSpeechRequest(text: "Hi you")))
        #expect(result.error == nil)
        let items = result.audio.map(\.item)
        #expect(items.count == 3)
        #expect(items.map(\.audio) == [testBytes(800, seed: 1), testBytes(333, seed: 2), testBytes(1200, seed: 3)])
        #expect(items[0].alignment == ElevenLabsAlignment(characters: ["H", "i"], startTimesSeconds: [0, 0.05], endTimesSeconds: [0.05, 0.1]))
        #expect(items[1].alignment == nil)
        #expect(items[2].alignment?.characters == [" ", "y", "o", "u"])
        #expect(items[2].normalizedAlignment == items[2].alignment)
        #expect(server.requests.first?.path.hasSuffix("/stream/with-timestamps") == true)
    }

    @Test func aBrokenTimestampLineFailsTheStream() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            let good = ElevenLabsReply.line(audio: [1, 2], characters: nil)
            await ElevenLabsReply.audio(responder, [Array((good + "not json\n").utf8)])
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server).streamWithTimestamps(ElevenLabsSpeechRequest(text: "x")))
        #expect(result.audio.map(\.item.audio) == [[1, 2]])
        guard case .malformedResponse = result.error as? ElevenLabsHTTPError else {
            Issue.record("expected malformedResponse, got \(String(describing: result.error))")
            return
        }
    }

    // MARK: - Errors that retrying can't fix

    @Test func anInvalidKeyIsTypedAndItsBodyIsNeverAudio() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.error(responder, status: 401, code: "invalid_api_key", message: "Invalid API key")
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server).stream(ElevenLabsSpeechRequest(text: "x")))
        #expect(result.audio.isEmpty)
        #expect(result.responses.isEmpty)
        guard case .invalidAPIKey(let detail) = result.error as? ElevenLabsHTTPError else {
            Issue.record("expected invalidAPIKey, got \(String(describing: result.error))")
            return
        }
        #expect(detail.httpStatus == 401)
        #expect(detail.code == "invalid_api_key")
        #expect(detail.message == "Invalid API key")
        #expect(detail.requestID == "req-err-1")
        #expect(server.requests.count == 1, "a bad key is not retried")
    }

    @Test func quotaExceededIsTypedFromTheLegacyBodyShape() async throws {
        let message = "This request exceeds your quota of 10000. You have 12 credits remaining, while 40 credits are required for this request."
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.error(responder, status: 401, code: "quota_exceeded", message: message, legacy: true)
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server).stream(ElevenLabsSpeechRequest(text: "x")))
        #expect(result.audio.isEmpty)
        #expect(result.error as? ElevenLabsHTTPError == .quotaExceeded(ElevenLabsErrorDetail(httpStatus: 401, code: "quota_exceeded", message: message)))
        #expect(server.requests.count == 1)
    }

    @Test func aValidationErrorIsTypedWithItsIssues() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.validationError(responder)
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server).stream(ElevenLabsSpeechRequest(text: "x")))
        #expect(result.audio.isEmpty)
        guard case .validationFailed(let issues, let detail) = result.error as? ElevenLabsHTTPError else {
            Issue.record("expected validationFailed, got \(String(describing: result.error))")
            return
        }
        #expect(issues == [ElevenLabsValidationIssue(location: ["body", "text"], message: "Field required", type: "missing")])
        #expect(detail.httpStatus == 422)
        #expect(server.requests.count == 1)
    }

    @Test func aNonJSONErrorBodyIsStillAnErrorNotAudio() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await responder.respond(status: 502, body: "<html>Bad gateway</html>", headers: [("content-type", "text/html")])
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server, retry: .none).stream(ElevenLabsSpeechRequest(text: "x")))
        #expect(result.audio.isEmpty)
        #expect(result.error as? ElevenLabsHTTPError == .serverError(ElevenLabsErrorDetail(httpStatus: 502, message: "<html>Bad gateway</html>")))
    }

    // MARK: - Retries

    @Test func systemBusyBacksOffExponentiallyThenSucceeds() async throws {
        let calls = Counter()
        let server = try await TestSpeechServer.start { _, responder in
            if await calls.next() < 2 {
                await ElevenLabsReply.error(responder, status: 429, code: "system_busy", message: "We are sorry, the system is experiencing heavy traffic, please try again.")
            } else {
                await ElevenLabsReply.audio(responder, [testBytes(100)])
            }
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server).stream(ElevenLabsSpeechRequest(text: "x")))
        #expect(result.error == nil)
        #expect(result.audio.flatMap(\.item) == testBytes(100))
        #expect(result.responses.map(\.attempts) == [3])
        let times = server.requests.map(\.receivedAt)
        #expect(times.count == 3)
        // Equal jitter: at least half of 80 ms, then at least half of 160 ms.
        #expect(times[1] - times[0] >= .milliseconds(40))
        #expect(times[2] - times[1] >= .milliseconds(80))
    }

    @Test func serverErrorsBackOffThenSucceed() async throws {
        let calls = Counter()
        let server = try await TestSpeechServer.start { _, responder in
            switch await calls.next() {
            case 0: await ElevenLabsReply.error(responder, status: 503, code: "service_unavailable", message: "down")
            case 1: await responder.respond(status: 500, body: "{}")
            default: await ElevenLabsReply.audio(responder, [testBytes(64)])
            }
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server).stream(ElevenLabsSpeechRequest(text: "x")))
        #expect(result.error == nil)
        #expect(result.audio.flatMap(\.item) == testBytes(64))
        #expect(server.requests.count == 3)
    }

    @Test func retriesAreBounded() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.error(responder, status: 503, code: "service_unavailable", message: "down")
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server, retry: .fast(maxRetries: 2)).stream(ElevenLabsSpeechRequest(text: "x")))
        guard case .serverError(let detail) = result.error as? ElevenLabsHTTPError else {
            Issue.record("expected serverError, got \(String(describing: result.error))")
            return
        }
        #expect(detail.attempts == 3)
        #expect(server.requests.count == 3)
    }

    @Test func aConcurrencyRefusalWaitsForOurOwnRequestToFinishThenRetries() async throws {
        // A plan with one slot. No success response carries maximum-concurrent-requests here, so
        // the client can't queue ahead: it meets the 429 and must wait for its other request.
        let slots = SlotServer(limit: 1)
        let server = try await TestSpeechServer.start { request, responder in
            guard slots.enter() else {
                await ElevenLabsReply.error(responder, status: 429, code: "too_many_concurrent_requests", message: "Too many concurrent requests.")
                return
            }
            let n = request.json?["text"] as? String == "first" ? 1 : 2
            await ElevenLabsReply.audio(
                responder, (0..<6).map { testBytes(100, seed: n * 10 + $0) }, gap: .milliseconds(80), headers: [("request-id", "r")],
                beforeEnd: slots.leave
            )
        }
        defer { Task { await server.shutdown() } }

        let client = client(server)
        let first = Task { await collect(client.stream(ElevenLabsSpeechRequest(text: "first"))) }
        #expect(await server.waitForRequests(1))
        let second = await collect(client.stream(ElevenLabsSpeechRequest(text: "second")))
        let firstResult = await first.value

        #expect(firstResult.error == nil)
        #expect(second.error == nil)
        #expect(second.audio.flatMap(\.item) == (0..<6).flatMap { testBytes(100, seed: 20 + $0) })
        #expect(second.responses.map(\.attempts) == [2])
        // One refusal, then a retry the moment the first stream ended: no polling in between.
        #expect(server.requests.count == 3, "\(server.requests.count) requests")
        #expect(try #require(firstResult.audio.last?.at) <= server.requests[2].receivedAt)
    }

    @Test func aConcurrencyRefusalFromElsewhereIsRetriedUntilASlotFrees() async throws {
        // Another process on the same key holds the slot for a while: nothing local to wait for.
        // The while starts at the first request, so a slow start under load can't skip the refusal.
        let busyUntil = Mutex<ContinuousClock.Instant?>(nil)
        let server = try await TestSpeechServer.start { _, responder in
            let now = ContinuousClock.now
            let deadline = busyUntil.withLock { deadline in
                if deadline == nil { deadline = now + .milliseconds(500) }
                return deadline!
            }
            if now < deadline {
                await ElevenLabsReply.error(responder, status: 429, code: "concurrent_limit_exceeded", message: "Too many concurrent requests.")
            } else {
                await ElevenLabsReply.audio(responder, [testBytes(10)])
            }
        }
        defer { Task { await server.shutdown() } }

        let result = await collect(client(server, retry: .fast(maxSlotWait: .seconds(5))).stream(ElevenLabsSpeechRequest(text: "x")))
        #expect(result.error == nil)
        #expect(result.audio.flatMap(\.item) == testBytes(10))
        #expect(server.requests.count >= 2)
    }

    @Test func theConcurrencyWaitIsBounded() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.error(responder, status: 429, code: "too_many_concurrent_requests", message: "Too many concurrent requests.")
        }
        defer { Task { await server.shutdown() } }

        let start = ContinuousClock.now
        let result = await collect(client(server, retry: .fast(maxSlotWait: .milliseconds(600))).stream(ElevenLabsSpeechRequest(text: "x")))
        guard case .tooManyConcurrentRequests = result.error as? ElevenLabsHTTPError else {
            Issue.record("expected tooManyConcurrentRequests, got \(String(describing: result.error))")
            return
        }
        // Bounded, not timed: without the bound the request would wait on 429s for good. (3 s
        // was missed by 0.05 s once on a loaded machine.)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func aKnownLimitQueuesRequestsLocallyInsteadOfMeetingA429() async throws {
        let slots = SlotServer(limit: 1)
        let server = try await TestSpeechServer.start { _, responder in
            guard slots.enter() else {
                await ElevenLabsReply.error(responder, status: 429, code: "too_many_concurrent_requests", message: "Too many concurrent requests.")
                return
            }
            await ElevenLabsReply.audio(
                responder, (0..<3).map { testBytes(50, seed: $0) }, gap: .milliseconds(60), headers: [("maximum-concurrent-requests", "1")],
                beforeEnd: slots.leave
            )
        }
        defer { Task { await server.shutdown() } }

        let client = client(server)
        // The first answer teaches the client the limit; then three at once go one by one.
        #expect(await collect(client.stream(ElevenLabsSpeechRequest(text: "learn"))).error == nil)
        let results = await withTaskGroup(of: CollectedStream<[UInt8]>.self) { group in
            for _ in 0..<3 { group.addTask { await collect(client.stream(ElevenLabsSpeechRequest(text: "x"))) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.error == nil })
        #expect(server.requests.count == 4, "queued locally: no request met a 429")
        #expect(slots.refusals == 0)
    }

    @Test func aTransportFailureBeforeAudioIsRetriedButNotAfterIt() async throws {
        let calls = Counter()
        let server = try await TestSpeechServer.start { _, responder in
            if await calls.next() == 0 {
                try? await responder.head(status: 200)
                try? await responder.close()  // Headers, then the connection drops.
            } else {
                await ElevenLabsReply.audio(responder, [testBytes(20)])
            }
        }
        defer { Task { await server.shutdown() } }
        let result = await collect(client(server).stream(ElevenLabsSpeechRequest(text: "x")))
        #expect(result.error == nil)
        #expect(result.audio.flatMap(\.item) == testBytes(20))

        let midway = try await TestSpeechServer.start { _, responder in
            try? await responder.head(status: 200)
            try? await responder.chunk(testBytes(30))
            try? await Task.sleep(for: .milliseconds(50))
            try? await responder.close()
        }
        defer { Task { await midway.shutdown() } }
        let cut = await collect(client(midway).stream(ElevenLabsSpeechRequest(text: "x")))
        #expect(cut.audio.flatMap(\.item) == testBytes(30))
        guard case .transport(_, let attempts, let afterAudio) = cut.error as? ElevenLabsHTTPError else {
            Issue.record("expected transport, got \(String(describing: cut.error))")
            return
        }
        #expect(afterAudio)
        #expect(attempts == 1)
        #expect(midway.requests.count == 1, "audio already played is never requested again")
    }

    // MARK: - Cancellation and secrecy

    @Test func cancellingTheConsumerAbortsTheTransferMidway() async throws {
        let server = try await TestSpeechServer.start { _, responder in
            await ElevenLabsReply.audio(responder, (0..<300).map { testBytes(160, seed: $0) }, gap: .milliseconds(20))
        }
        defer { Task { await server.shutdown() } }

        let stream = client(server).stream(ElevenLabsSpeechRequest(text: "a long story"))
        let gotAudio = AsyncStream.makeStream(of: Void.self)
        let consumer = Task {
            for try await event in stream {
                if case .audio = event { gotAudio.continuation.yield() }
            }
        }
        for await _ in gotAudio.stream { break }
        consumer.cancel()
        _ = await consumer.result
        let connection = try #require(server.requests.first?.connection)
        #expect(await server.waitForClose(of: connection), "the server should see the connection close")
    }

    @Test func theKeyNeverAppearsInLogsErrorsOrDescriptions() async throws {
        let calls = Counter()
        let server = try await TestSpeechServer.start { _, responder in
            switch await calls.next() {
            case 0: await ElevenLabsReply.error(responder, status: 429, code: "system_busy", message: "busy")
            case 1: await ElevenLabsReply.audio(responder, [testBytes(10)])
            case 2: await ElevenLabsReply.error(responder, status: 401, code: "invalid_api_key", message: "Invalid API key")
            default: await ElevenLabsReply.error(responder, status: 500, code: "internal", message: "oops")
            }
        }
        defer { Task { await server.shutdown() } }

        let logs = LogCapture()
        let client = client(server, retry: .fast(maxRetries: 1), logger: logs)
        var errors: [any Error] = []
        for _ in 0..<3 {
            if let error = await collect(client.stream(ElevenLabsSpeechRequest(text: "secret test"))).error { errors.append(error) }
        }
        let refused = try await unusedLoopbackPort()
        let offline = ElevenLabsHTTPClient(
            configuration: .init(apiKey: Self.key, baseURL: "http://127.0.0.1:\(refused)", retry: .fast(maxRetries: 1)), logger: logs.logger)
        if let error = await collect(offline.stream(ElevenLabsSpeechRequest(text: "x"))).error { errors.append(error) }

        #expect(errors.count == 3)
        #expect(logs.count > 5, "the client logged its work")
        #expect(!logs.text.contains(Self.key))
        #expect(!logs.text.contains("sk_test"))
        for error in errors {
            #expect(!"\(error)".contains(Self.key))
            #expect(!String(reflecting: error).contains(Self.key))
        }
        #expect(!"\(client.configuration)".contains(Self.key))
        #expect(!String(reflecting: client.configuration).contains(Self.key))
        var dumped = ""
        dump(client.configuration, to: &dumped)
        #expect(!dumped.contains(Self.key))
    }

    @Test func anEmptyKeyIsRefusedBeforeSending() async throws {
        let client = ElevenLabsHTTPClient(configuration: .init(apiKey: "", baseURL: "http://127.0.0.1:9"), logger: LogCapture().logger)
        let result = await collect(client.stream(ElevenLabsSpeechRequest(text: "x")))
        #expect(result.error as? ElevenLabsHTTPError == .invalidConfiguration("no API key"))
        #expect(throws: ElevenLabsHTTPError.invalidConfiguration("ELEVENLABS_API_KEY is not set")) {
            try ElevenLabsHTTPClient.Configuration.fromEnvironment(["ELEVENLABS_API_KEY": " \n"])
        }
        let configuration = try ElevenLabsHTTPClient.Configuration.fromEnvironment([
            "ELEVENLABS_API_KEY": "k1\n", "ELEVENLABS_BASE_URL": "http://127.0.0.1:8089",
        ])
        #expect(configuration.apiKey == "k1")
        #expect(configuration.baseURL == "http://127.0.0.1:8089")
        #expect(ElevenLabsHTTPClient.Configuration(apiKey: "k").baseURL == "https://api.elevenlabs.io")
    }
}

/// Counts calls across the server's handler tasks.
actor Counter {
    private var value = 0

    func next() -> Int {
        defer { value += 1 }
        return value
    }
}

/// The server side of a concurrency limit: requests in flight against the plan's slots.
final class SlotServer: Sendable {
    private let state = Mutex((inFlight: 0, refusals: 0))
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func enter() -> Bool {
        state.withLock { state in
            guard state.inFlight < limit else {
                state.refusals += 1
                return false
            }
            state.inFlight += 1
            return true
        }
    }

    func leave() {
        state.withLock { $0.inFlight -= 1 }
    }

    var refusals: Int { state.withLock { $0.refusals } }
}
