import Foundation
import NIOCore
import NIOHTTP1
import Testing
import VoiceBridgeEmulators
import VoiceBridgeSpeech

/// The HTTP endpoints over a real socket, against shared/docs/elevenlabs.md §3 and §10.11.
@Suite struct ElevenLabsEmulatorHTTPTests {
    static let text = "Thank you for calling. Your appointment is on Tuesday at three."

    @Test func ulawStreamIsTheOfflineVoiceByteForByte() async throws {
        let voice = RecordingVoice(OfflineVoice())
        try await withEmulator(speech: voice) { _, port in
            let response = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"\#(Self.text)","model_id":"eleven_flash_v2_5"}"#)
            #expect(response.status == 200)
            #expect(response.complete)
            #expect(response.body.count > 16000)  // seconds of speech
            #expect(Bytes(response.body) == Bytes(voice.audio))
            #expect(response.headers["character-cost"] == "\(Self.text.count)")
            #expect(response.headers["request-id"]?.isEmpty == false)
            #expect(response.headers["current-concurrent-requests"] == "1")
            #expect(response.headers["maximum-concurrent-requests"] == "5")
            #expect(response.headers["transfer-encoding"] == "chunked")
        }
    }

    @Test func webSocketAudioIsTheOfflineVoiceByteForByteWithTilingAlignment() async throws {
        let sentence = "Please hold while I check that for you. "
        let voice = RecordingVoice(OfflineVoice())
        try await withEmulator(speech: voice) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            try await socket.send(#"{"text":"\#(sentence)"}"#)
            try await socket.send(#"{"text":""}"#)
            let (messages, end) = await socket.collect()
            #expect(end == .close(code: 1000, reason: ""))
            let audio = try audioMessages(messages)
            #expect(audio.count > 3)
            #expect(Bytes(audio.flatMap(\.audioBytes)) == Bytes(voice.audio))
            var characters = ""
            for message in audio {
                let bytes = message.audioBytes
                #expect(bytes.count <= 200 * 8)  // --chunk-ms 200
                guard let alignment = message.alignment else { continue }
                #expect(message.normalizedAlignment == alignment)
                expectTiles(alignment, audioMs: bytes.count / 8)
                characters += alignment.chars.joined()
            }
            // Every character, spaces and punctuation included, exactly once, in order.
            #expect(characters == sentence)
        }
    }

    @Test func withTimestampsIsNDJSONInFloatSeconds() async throws {
        try await withEmulator(ElevenLabsEmulatorConfiguration(chunkMs: 100)) { _, port in
            let response = try await TestHTTP.request(port: port, path: Paths.withTimestamps(), headers: validKey, body: #"{"text":"Hello there.  "}"#)
            #expect(response.status == 200)
            let lines = response.text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.last == "")  // every line ends with a newline
            var audio: [UInt8] = []
            var characters = ""
            var lastEnd = 0.0
            for line in lines.dropLast() {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                #expect(Set(object.keys) == ["audio_base64", "alignment", "normalized_alignment"])
                #expect(String(line).hasPrefix(#"{"audio_base64":""#))
                let base64 = try #require(object["audio_base64"] as? String)
                audio += [UInt8](try #require(Data(base64Encoded: base64)))
                guard let alignment = object["alignment"] as? [String: Any] else { continue }
                #expect(Set(alignment.keys) == ["characters", "character_start_times_seconds", "character_end_times_seconds"])
                let chars = try #require(alignment["characters"] as? [String])
                let starts = try #require(alignment["character_start_times_seconds"] as? [Double])
                let ends = try #require(alignment["character_end_times_seconds"] as? [Double])
                #expect(chars.count == starts.count && chars.count == ends.count)
                for (start, end) in zip(starts, ends) {
                    #expect(start >= lastEnd - 1e-9)  // times run from the start of the whole response
                    #expect(end >= start)
                    lastEnd = end
                }
                characters += chars.joined()
            }
            // No trailing space on HTTP (§1.5).
            #expect(characters == "Hello there.")
            #expect(Bytes(audio) == Bytes(KnownVoice().audio(for: "Hello there.")))
            #expect(lines.first.map { String($0).contains(#""character_start_times_seconds":[0.0,0.06"#) } == true)
        }
    }

    @Test func pcmFormatsHaveTheDocumentedByteRates() async throws {
        try await withEmulator { _, port in
            let ulaw = KnownVoice().audio(for: "Testing pcm.")
            let pcm8 = try await TestHTTP.request(port: port, path: Paths.stream("output_format=pcm_8000"), headers: validKey, body: #"{"text":"Testing pcm."}"#)
            #expect(pcm8.body.count == ulaw.count * 2)
            let pcm16 = try await TestHTTP.request(port: port, path: Paths.stream("output_format=pcm_16000"), headers: validKey, body: #"{"text":"Testing pcm."}"#)
            #expect(pcm16.body.count == ulaw.count * 4)  // 32 bytes per ms
            let alaw = try await TestHTTP.request(port: port, path: Paths.stream("output_format=alaw_8000"), headers: validKey, body: #"{"text":"Testing pcm."}"#)
            #expect(alaw.body.count == ulaw.count)
            #expect(Bytes(alaw.body) != Bytes(ulaw))
        }
    }

    @Test func errorBodiesAreTheDocumentedShapes() async throws {
        try await withEmulator { _, port in
            let badKey = try await TestHTTP.request(port: port, path: Paths.stream(), headers: [("xi-api-key", "nope")], body: #"{"text":"Hi"}"#)
            #expect(badKey.status == 401)
            #expect(badKey.text == #"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#)

            let noKey = try await TestHTTP.request(port: port, path: Paths.stream(), body: #"{"text":"Hi"}"#)
            #expect(noKey.status == 401)

            let missing = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"model_id":"eleven_flash_v2_5"}"#)
            #expect(missing.status == 422)
            #expect(missing.text == #"{"detail":[{"loc":["body","text"],"msg":"Field required","type":"missing"}]}"#)

            let notJSON = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: "text=hi")
            #expect(notJSON.status == 422)
            #expect(notJSON.text.hasPrefix(#"{"detail":[{"loc":["body"]"#))

            let mp3 = try await TestHTTP.request(port: port, path: Paths.stream("output_format=mp3_44100_128"), headers: validKey, body: #"{"text":"Hi"}"#)
            #expect(mp3.status == 422)
            #expect(mp3.text.contains("Unsupported in emulator: output_format mp3_44100_128"))

            let tooLong = String(repeating: "a", count: 40_001)
            let limit = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"\#(tooLong)","model_id":"eleven_flash_v2_5"}"#)
            #expect(limit.status == 400)
            #expect(limit.text == #"{"detail":{"status":"max_character_limit_exceeded","message":"This request's text has 40001 characters and exceeds the character limit of 40000 characters."}}"#)

            let unknown = try await TestHTTP.request(port: port, method: .GET, path: "/v1/voices", headers: validKey)
            #expect(unknown.status == 404)
        }
    }

    @Test func quotaExceededIs401() async throws {
        try await withEmulator(ElevenLabsEmulatorConfiguration(faults: .init(quotaExceeded: true))) { _, port in
            let response = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"Ninety-one characters? No, just these."}"#)
            #expect(response.status == 401)
            #expect(response.text == #"{"detail":{"status":"quota_exceeded","message":"This request exceeds your quota of 10000. You have 0 credits remaining, while 38 credits are required for this request."}}"#)
        }
    }

    @Test func injected429sThenService() async throws {
        let configuration = ElevenLabsEmulatorConfiguration(faults: .init(http429Count: 2, systemBusyCount: 1))
        try await withEmulator(configuration) { emulator, port in
            var statuses: [Int] = []
            var bodies: [String] = []
            for _ in 0..<4 {
                let response = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"Hi"}"#)
                statuses.append(response.status)
                bodies.append(response.text)
            }
            #expect(statuses == [429, 429, 429, 200])
            #expect(bodies[0] == #"{"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent requests. Your current subscription is associated with a maximum of 5 concurrent requests (running in parallel)."}}"#)
            #expect(bodies[2] == #"{"detail":{"status":"system_busy","message":"We are sorry, the system is experiencing heavy traffic, please try again. Higher subscriptions have higher priority."}}"#)
            #expect(emulator.counters.injectedTooManyConcurrent == 2)
            #expect(emulator.counters.injectedSystemBusy == 1)
        }
    }

    @Test func injected500sThenService() async throws {
        try await withEmulator(ElevenLabsEmulatorConfiguration(faults: .init(systemBusyCount: 1, http500Count: 2))) { emulator, port in
            var statuses: [Int] = []
            var bodies: [String] = []
            for _ in 0..<4 {
                let response = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"Hi"}"#)
                statuses.append(response.status)
                bodies.append(response.text)
            }
            // 429s first, then the 500s, then service.
            #expect(statuses == [429, 500, 500, 200])
            #expect(bodies[1] == #"{"detail":{"status":"internal_server_error","message":"We are sorry, something went wrong. You are not charged for this request."}}"#)
            #expect(emulator.counters.injectedServerErrors == 2)
        }
    }

    @Test func aPoisonedTextAlwaysFailsAndOthersDoNot() async throws {
        try await withEmulator(ElevenLabsEmulatorConfiguration(faults: .init(failTextContaining: "hours"))) { emulator, port in
            var statuses: [Int] = []
            for text in ["Our hours are nine to five.", "Welcome.", "Our hours are nine to five."] {
                let response = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"\#(text)"}"#)
                statuses.append(response.status)
            }
            #expect(statuses == [500, 200, 500])
            #expect(emulator.counters.injectedServerErrors == 2)
            #expect(emulator.counters.peakConcurrentHTTP == 1)
        }
    }

    @Test func concurrencyLimitRefusesTheRequestOverIt() async throws {
        // One slot, and real-time pacing so the first request holds it.
        let configuration = ElevenLabsEmulatorConfiguration(maxConcurrentRequests: 1, faults: .init(speed: 1))
        try await withEmulator(configuration) { emulator, port in
            async let first = TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"A long enough text to stream for a while."}"#)
            // Until the first request holds the slot: a loaded machine may take a while to send it.
            for _ in 0..<500 where emulator.counters.peakConcurrentHTTP == 0 { try await Task.sleep(for: .milliseconds(10)) }
            let second = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"Hi"}"#)
            #expect(second.status == 429)
            #expect(second.text.contains("too_many_concurrent_requests"))
            #expect(try await first.status == 200)
            // Freed once the first finished.
            let third = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"Hi"}"#)
            #expect(third.status == 200)
        }
    }

    @Test func disconnectInjectionCutsTheBodyShort() async throws {
        let configuration = ElevenLabsEmulatorConfiguration(faults: .init(speed: 1, disconnectAfterMs: 100))
        try await withEmulator(configuration) { emulator, port in
            let response = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"This one is cut off before its end."}"#)
            #expect(response.status == 200)
            #expect(!response.complete)
            #expect(response.body.count < KnownVoice().audio(for: "This one is cut off before its end.").count)
            #expect(emulator.counters.injectedDisconnects == 1)
        }
    }

    @Test func slowNetworkStillDeliversEverything() async throws {
        let configuration = ElevenLabsEmulatorConfiguration(faults: .init(slow: true, slowWriteBytes: 300, slowWriteIntervalMs: 10))
        try await withEmulator(configuration) { _, port in
            let start = NIODeadline.now()
            let response = try await TestHTTP.request(port: port, path: Paths.stream(), headers: validKey, body: #"{"text":"Slowly."}"#)
            // 3360 bytes of audio in 300-byte pieces, one per 10 ms: at least 110 ms.
            #expect(NIODeadline.now() - start >= .milliseconds(100))
            #expect(response.complete)
            #expect(Bytes(response.body) == Bytes(KnownVoice().audio(for: "Slowly.")))
            #expect(response.pieces.count > 1)
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            try await socket.send(#"{"text":"Slowly. "}"#)
            try await socket.send(#"{"text":""}"#)
            let (messages, end) = await socket.collect()
            #expect(end == .close(code: 1000, reason: ""))
            #expect(Bytes(try audioMessages(messages).flatMap(\.audioBytes)) == Bytes(KnownVoice().audio(for: "Slowly. ")))
        }
    }

    @Test func httpRequestsAreLoggedWithoutTheKey() async throws {
        try await withEmulator { emulator, port in
            _ = try await TestHTTP.request(port: port, path: Paths.stream("output_format=ulaw_8000&optimize_streaming_latency=4"), headers: validKey, body: #"{"text":"Hi"}"#)
            let record = try #require(emulator.requests.first)
            #expect(record.kind == .http)
            #expect(record.method == "POST")
            #expect(record.status == 200)
            #expect(record.headers["xi-api-key"] == "<redacted>")
            #expect(record.query["output_format"] == "ulaw_8000")
            #expect(record.body == #"{"text":"Hi"}"#)
        }
    }
}
