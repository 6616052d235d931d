import Foundation
import NIOCore
import Testing
import VoiceBridgeCarriers
import VoiceBridgeEmulators

/// `stream-input` over a real socket, against shared/docs/elevenlabs.md §1 and §10.
@Suite struct ElevenLabsEmulatorStreamInputTests {
    static let initMessage = #"{"text":" ","voice_settings":{"stability":0.5,"similarity_boost":0.8},"xi_api_key":"test-key"}"#

    @Test func endOfInputSpeaksTheRestThenIsFinalThenClose1000() async throws {
        let voice = KnownVoice()
        try await withEmulator(speech: voice) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput())
            try await socket.send(Self.initMessage)
            try await socket.send(#"{"text":"Hello world. "}"#)
            // Below the first schedule step (120): nothing yet.
            #expect(await socket.quietMessages(for: .milliseconds(300)).isEmpty)
            try await socket.send(#"{"text":""}"#)
            let (messages, end) = await socket.collect()
            #expect(end == .close(code: 1000, reason: ""))
            #expect(messages.last == #"{"isFinal":true}"#)
            let audio = try audioMessages(messages)
            #expect(audio.count == messages.count - 1)
            #expect(Bytes(audio.flatMap(\.audioBytes)) == Bytes(KnownVoice().audio(for: "Hello world. ")))
            #expect(voice.texts == ["Hello world. "])
            for text in messages.dropLast() {
                // Exact shape and field order: audio, isFinal (null), normalizedAlignment, alignment.
                #expect(TestServerMessage.keys(text) == ["audio", "isFinal", "normalizedAlignment", "alignment"])
                #expect(text.contains(#","isFinal":null,"normalizedAlignment":"#))
                #expect(!text.contains("contextId"))
            }
            #expect(await socket.next(timeout: .seconds(2)) == .ended)
        }
    }

    @Test func audioMessageIsExactlyTheDocumentedJSON() async throws {
        try await withEmulator(ElevenLabsEmulatorConfiguration(chunkMs: 1000)) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            try await socket.send(#"{"text":"Hi ","flush":true}"#)
            let first = await socket.next()
            let audio = Base64Fast.encode(KnownVoice().audio(for: "Hi "))
            let expected = #"{"audio":""# + audio + #"","isFinal":null,"#
                + #""normalizedAlignment":{"chars":["H","i"," "],"charStartTimesMs":[0,60,120],"charDurationsMs":[60,60,60]},"#
                + #""alignment":{"chars":["H","i"," "],"charStartTimesMs":[0,60,120],"charDurationsMs":[60,60,60]}}"#
            #expect(first == .text(expected))
        }
    }

    @Test func defaultScheduleWaitsFor120ThenAFurther160() async throws {
        let voice = KnownVoice()
        try await withEmulator(speech: voice) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            let word = "abcdefghi "  // 10 characters
            for _ in 0..<11 { try await socket.send(#"{"text":"\#(word)"}"#) }
            #expect(await socket.quietMessages(for: .milliseconds(300)).isEmpty)  // 110 < 120
            try await socket.send(#"{"text":"\#(word)"}"#)  // 120
            guard case .text = await socket.next() else { Issue.record("no audio at 120 characters"); return }
            #expect(voice.texts == [String(repeating: word, count: 12)])
            // The next step is 160 more. First the rest of this generation's audio, however slowly
            // a loaded machine delivers it.
            while await !socket.quietMessages(for: .milliseconds(300)).isEmpty {}
            for _ in 0..<15 { try await socket.send(#"{"text":"\#(word)"}"#) }
            #expect(await socket.quietMessages(for: .milliseconds(300)).isEmpty)  // 150 < 160
            try await socket.send(#"{"text":"\#(word)"}"#)
            guard case .text = await socket.next() else { Issue.record("no audio at 160 more characters"); return }
            #expect(voice.texts.count == 2)
            #expect(voice.texts.last == String(repeating: word, count: 16))
        }
    }

    @Test func customScheduleAndCutAtLastSpace() async throws {
        let voice = KnownVoice()
        try await withEmulator(speech: voice) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" ","generation_config":{"chunk_length_schedule":[50]}}"#)
            try await socket.send(#"{"text":"The quick brown fox jumps over the lazy dog and "}"#)  // 48
            #expect(await socket.quietMessages(for: .milliseconds(300)).isEmpty)
            try await socket.send(#"{"text":"then runs"}"#)  // 57, ends mid-word
            guard case .text = await socket.next() else { Issue.record("no audio at 50 characters"); return }
            // Generated up to the last space; "runs" waits for the rest of its word.
            #expect(voice.texts == ["The quick brown fox jumps over the lazy dog and then "])
        }
    }

    @Test func tryTriggerNeedsFiftyCharacters() async throws {
        let voice = KnownVoice()
        try await withEmulator(speech: voice) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            try await socket.send(#"{"text":"Forty characters of text, more or less. ","try_trigger_generation":true}"#)
            #expect(await socket.quietMessages(for: .milliseconds(300)).isEmpty)
            try await socket.send(#"{"text":"And ten more. ","try_trigger_generation":true}"#)
            guard case .text = await socket.next() else { Issue.record("try_trigger with 50+ characters did nothing"); return }
            #expect(voice.texts == ["Forty characters of text, more or less. And ten more. "])
        }
    }

    @Test func autoModeSpeaksEachMessageAtOnce() async throws {
        let voice = KnownVoice()
        try await withEmulator(speech: voice) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput("output_format=ulaw_8000&auto_mode=true"), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            try await socket.send(#"{"text":"One sentence. "}"#)
            guard case .text = await socket.next() else { Issue.record("auto_mode waited"); return }
            try await socket.send(#"{"text":"Another one. "}"#)
            // Waits for the second sentence to be spoken rather than for a fixed window, which a
            // loaded machine overran.
            for _ in 0..<200 where voice.texts.count < 2 { try await Task.sleep(for: .milliseconds(25)) }
            #expect(voice.texts == ["One sentence. ", "Another one. "])
        }
    }

    @Test func flushSpeaksWithoutIsFinalAndKeepsTheSocketOpen() async throws {
        let voice = KnownVoice()
        try await withEmulator(speech: voice) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            try await socket.send(#"{"text":"Short. ","flush":true}"#)
            // The flush's audio, until the socket goes quiet (a loaded machine delivers it slowly).
            var events: [TestWebSocket.Event] = []
            if let first = await socket.next() { events.append(first) }
            while true {
                let more = await socket.quietMessages(for: .milliseconds(300))
                if more.isEmpty { break }
                events += more
            }
            #expect(!events.isEmpty)
            for event in events {
                guard case .text(let text) = event else { Issue.record("unexpected \(event)"); continue }
                #expect(try TestServerMessage(text).isFinal == nil)
                #expect(try TestServerMessage(text).audio != nil)
            }
            // Still open: more text, another flush, more audio.
            try await socket.send(#"{"text":"Again. ","flush":true}"#)
            guard case .text = await socket.next() else { Issue.record("socket closed after flush"); return }
            for _ in 0..<200 where voice.texts.count < 2 { try await Task.sleep(for: .milliseconds(25)) }
            #expect(voice.texts == ["Short. ", "Again. "])
        }
    }

    @Test func inactivityClosesWith1008AndTheDocumentedReason() async throws {
        try await withEmulator { emulator, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput("output_format=ulaw_8000&inactivity_timeout=1"), headers: validKey)
            // A loaded machine may stall this task past the timeout: the close still comes.
            try? await socket.send(#"{"text":" "}"#)
            let end = await socket.next(timeout: .seconds(5))
            let full = ElevenLabsEmulatorProtocol.inactivityReason(seconds: 1)
            #expect(full == "Have not received a new text input within the timeout of 1 seconds. Streaming input terminated. Please make sure to either feed the input in the timely manner, or to send the end of input text (empty string \"\") when done.")
            // On the wire: the first 120 bytes, as captured from the live service (elevenlabs-docs #426).
            #expect(end == .close(code: 1008, reason: "Have not received a new text input within the timeout of 1 seconds. Streaming input terminated. Please make sure to eith"))
            #expect(emulator.requests.first?.closeReason == full)
        }
    }

    @Test func defaultInactivityReasonSaysTwentySeconds() {
        #expect(ElevenLabsEmulatorProtocol.wireReason(ElevenLabsEmulatorProtocol.inactivityReason(seconds: 20))
            == "Have not received a new text input within the timeout of 20 seconds. Streaming input terminated. Please make sure to eit")
    }

    @Test func keepAliveSpacesPreventTheInactivityClose() async throws {
        try await withEmulator { _, port in
            // Keep-alives every 250 ms against a 4 s timeout, so a loaded machine that stalls the
            // test for seconds still keeps the socket.
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput("output_format=ulaw_8000&inactivity_timeout=4"), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            for _ in 0..<20 {
                try await Task.sleep(for: .milliseconds(250))
                try await socket.send(#"{"text":" "}"#)
            }
            // 5 s in, past the 4 s timeout, and still open.
            #expect(await socket.quietMessages(for: .milliseconds(300)).isEmpty)
            let end = await socket.next(timeout: .seconds(10))
            guard case .close(let code, _) = end else { Issue.record("expected the inactivity close, got \(String(describing: end))"); return }
            #expect(code == 1008)
        }
    }

    @Test func changedVoiceSettingsClose1008() async throws {
        try await withEmulator { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" ","voice_settings":{"stability":0.5,"similarity_boost":0.75}}"#)
            // The same settings again are allowed.
            try await socket.send(#"{"text":"Hello ","voice_settings":{"similarity_boost":0.75,"stability":0.50}}"#)
            #expect(await socket.quietMessages(for: .milliseconds(200)).isEmpty)
            try await socket.send(#"{"text":"there ","voice_settings":{"stability":0.9,"similarity_boost":0.75}}"#)
            let end = await socket.next()
            #expect(end == .close(code: 1008, reason: "voice_settings field must be provided in the first message and then either be not provided or not change."))
        }
    }

    @Test func settingsFirstSentLaterClose1008() async throws {
        try await withEmulator { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" ","voice_settings":null}"#)
            try await socket.send(#"{"text":"Hello ","voice_settings":{"stability":0.5,"similarity_boost":0.75}}"#)
            #expect(await socket.next() == .close(code: 1008, reason: ElevenLabsEmulatorProtocol.voiceSettingsReason))
        }
    }

    @Test func badKeyInTheHandshakeCloses1008() async throws {
        try await withEmulator { emulator, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: [("xi-api-key", "wrong")])
            #expect(await socket.next() == .close(code: 1008, reason: "Invalid API key"))
            #expect(emulator.requests.first?.headers["xi-api-key"] == "<redacted>")
        }
    }

    @Test func keyInTheFirstMessageEitherSpelling() async throws {
        try await withEmulator { _, port in
            for field in ["xi_api_key", "xi-api-key"] {
                let good = try await TestWebSocket.connect(port: port, path: Paths.streamInput())
                try await good.send(#"{"text":" ","\#(field)":"test-key"}"#)
                try await good.send(#"{"text":"Hi ","flush":true}"#)
                guard case .text = await good.next() else { Issue.record("\(field) was not accepted"); continue }
                let bad = try await TestWebSocket.connect(port: port, path: Paths.streamInput())
                try await bad.send(#"{"text":" ","\#(field)":"nope"}"#)
                #expect(await bad.next() == .close(code: 1008, reason: "Invalid API key"))
            }
            let missing = try await TestWebSocket.connect(port: port, path: Paths.streamInput())
            try await missing.send(#"{"text":" "}"#)
            #expect(await missing.next() == .close(code: 1008, reason: "Invalid API key"))
        }
    }

    @Test func bearerAuthorizationInQueryOrHeader() async throws {
        try await withEmulator { _, port in
            let query = try await TestWebSocket.connect(port: port, path: Paths.streamInput("output_format=ulaw_8000&authorization=Bearer%20test-key"))
            try await query.send(#"{"text":" "}"#)
            try await query.send(#"{"text":"Hi ","flush":true}"#)
            guard case .text = await query.next() else { Issue.record("query authorization refused"); return }
            let header = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: [("authorization", "Bearer test-key")])
            try await header.send(#"{"text":" "}"#)
            try await header.send(#"{"text":"Hi ","flush":true}"#)
            guard case .text = await header.next() else { Issue.record("header authorization refused"); return }
        }
    }

    @Test func singleUseTokenWorksOnce() async throws {
        try await withEmulator { emulator, port in
            let response = try await TestHTTP.request(port: port, path: "/v1/single-use-token/tts_websocket", headers: validKey)
            #expect(response.status == 200)
            let token = try #require(try TestServerMessageToken(response.text).token)
            let first = try await TestWebSocket.connect(port: port, path: Paths.streamInput("output_format=ulaw_8000&single_use_token=\(token)"))
            try await first.send(#"{"text":" "}"#)
            try await first.send(#"{"text":"Hi ","flush":true}"#)
            guard case .text = await first.next() else { Issue.record("token refused"); return }
            let second = try await TestWebSocket.connect(port: port, path: Paths.streamInput("output_format=ulaw_8000&single_use_token=\(token)"))
            #expect(await second.next() == .close(code: 1008, reason: "Invalid API key"))
            #expect(emulator.requests[1].query["single_use_token"] == "<redacted>")
            #expect(!emulator.requests[1].uri.contains(token))
        }
    }

    @Test func firstMessageMustBeASingleSpace() async throws {
        try await withEmulator { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":"Hello there "}"#)
            #expect(await socket.next() == .close(code: 1008, reason: ElevenLabsEmulatorProtocol.firstMessageReason))
        }
    }

    @Test func unsupportedFormatsAreRefusedClearly() async throws {
        try await withEmulator { _, port in
            // No output_format: the service's default is MP3, which the emulator can't make.
            let socket = try await TestWebSocket.connect(port: port, path: "/v1/text-to-speech/voice1/stream-input", headers: validKey)
            #expect(await socket.next() == .close(code: 1003, reason: "Unsupported in emulator: output_format mp3_44100. Use ulaw_8000, alaw_8000, pcm_8000 or pcm_16000."))
        }
    }

    @Test func quotaExceededCloses1008AtTheFirstGeneration() async throws {
        let configuration = ElevenLabsEmulatorConfiguration(faults: .init(quotaExceeded: true))
        try await withEmulator(configuration) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            try await socket.send(#"{"text":"Twelve chars","flush":true}"#)
            #expect(await socket.next() == .close(
                code: 1008,
                reason: "This request exceeds your quota of 10000. You have 0 credits remaining, while 12 credits are required for this request."
            ))
        }
    }

    @Test func serverErrorInjectionHitsOnlyTheFirstSocket() async throws {
        let configuration = ElevenLabsEmulatorConfiguration(faults: .init(webSocketServerErrorCount: 1))
        try await withEmulator(configuration) { _, port in
            for attempt in 0..<2 {
                let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
                try await socket.send(#"{"text":" "}"#)
                try await socket.send(#"{"text":"Hi ","flush":true}"#)
                let event = await socket.next()
                if attempt == 0 {
                    #expect(event == .close(code: 1008, reason: "We are sorry, something went wrong. You are not charged for this request."))
                } else {
                    guard case .text = event else { Issue.record("second socket failed too"); return }
                }
            }
        }
    }

    @Test func disconnectInjectionDropsTheFirstStreamWithoutACloseFrame() async throws {
        // Real-time pacing, so the drop lands mid-stream.
        let configuration = ElevenLabsEmulatorConfiguration(faults: .init(speed: 1, disconnectAfterMs: 100))
        try await withEmulator(configuration) { emulator, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            // Long enough (over ten seconds of audio) that the drop lands mid-stream even if a
            // loaded machine delays the first audio.
            let text = String(repeating: "This sentence lasts for several seconds of audio. ", count: 4)
            try await socket.send(#"{"text":"\#(text)","flush":true}"#)
            let (messages, end) = await socket.collect()
            #expect(end == .ended)  // No close frame: the client sees 1006.
            #expect(!messages.isEmpty)
            #expect(try audioMessages(messages).flatMap(\.audioBytes).count < KnownVoice().audio(for: text).count)
            #expect(emulator.counters.injectedDisconnects == 1)
            #expect(emulator.requests.first?.closeCode == 1006)

            // Once only: the next socket streams to the end.
            let next = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await next.send(#"{"text":" "}"#)
            try await next.send(#"{"text":"Hi. "}"#)
            try await next.send(#"{"text":""}"#)
            let (_, nextEnd) = await next.collect()
            #expect(nextEnd == .close(code: 1000, reason: ""))
        }
    }

    @Test func pacingAtRealTimeAndTTFB() async throws {
        let configuration = ElevenLabsEmulatorConfiguration(chunkMs: 100, faults: .init(ttfbMs: 150, speed: 2))
        try await withEmulator(configuration) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
            try await socket.send(#"{"text":" "}"#)
            let start = NIODeadline.now()
            try await socket.send(#"{"text":"Ten chars ","flush":true}"#)  // 600 ms of audio
            guard case .text = await socket.next() else { Issue.record("no audio"); return }
            let first = NIODeadline.now() - start
            var count = 1
            while count < 6, case .text = await socket.next() { count += 1 }
            let all = NIODeadline.now() - start
            #expect(first >= .milliseconds(140))
            // The last message starts 500 ms in: due at 150 + 500 / 2 = 400 ms.
            #expect(all >= .milliseconds(380))
            #expect(all < .seconds(5))
        }
    }

    @Test func stopClosesOpenSockets() async throws {
        let emulator = ElevenLabsEmulator(speech: KnownVoice())
        let port = try await emulator.start()
        #expect(emulator.port == port)
        let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput(), headers: validKey)
        try await socket.send(#"{"text":" "}"#)
        try await emulator.stop()
        #expect(await socket.next(timeout: .seconds(5)) == .ended)
        #expect(emulator.port == nil)
    }

    @Test func requestLogKeepsMessagesInOrderAndHidesSecrets() async throws {
        try await withEmulator { emulator, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.streamInput("output_format=ulaw_8000&optimize_streaming_latency=3&model_id=eleven_flash_v2_5"))
            try await socket.send(#"{"text":" ","xi_api_key":"test-key"}"#)
            try await socket.send(#"{"text":"Hi. "}"#)
            try await socket.send(#"{"text":""}"#)
            _ = await socket.collect()
            let record = try #require(emulator.requests.first)
            #expect(record.kind == .webSocket)
            #expect(record.path == "/v1/text-to-speech/voice1/stream-input")
            #expect(record.query["optimize_streaming_latency"] == "3")  // accepted and ignored
            #expect(record.query["model_id"] == "eleven_flash_v2_5")
            #expect(record.messages == [#"{"text":" ","xi_api_key":"<redacted>"}"#, #"{"text":"Hi. "}"#, #"{"text":""}"#])
            #expect(record.closeCode == 1000)
            #expect(record.audioMessagesSent > 0)
            let counters = emulator.counters
            #expect(counters.webSocketConnections == 1)
            #expect(counters.messagesReceived == 3)
            #expect(counters.finalMessagesSent == 1)
            #expect(counters.generations == 1)
        }
    }
}

/// `{"token": "..."}`.
struct TestServerMessageToken: Decodable {
    var token: String?

    init(_ text: String) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(text.utf8))
    }
}
