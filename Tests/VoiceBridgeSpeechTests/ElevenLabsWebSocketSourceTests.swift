import Foundation
import NIOCore
import Testing
import VoiceBridgeEmulators
import NIOPosix
import Synchronization
import VoiceBridgeSpeech

/// The WebSocket source against the in-process emulator over real loopback sockets.
@Suite(.timeLimit(.minutes(3)))
struct ElevenLabsWebSocketSourceTests {
    @Test func passesTheAudioThroughByteForByte() async throws {
        let voice = KnownVoice()
        try await withElevenLabsEmulator(voice: voice) { emulator, port in
            let metrics = MetricsLog()
            let source = try webSocketSource(port: port, metrics: metrics)
            defer { source.close() }
            let text = "Hello there, this is a test of the bridge."
            let chunks = try await allChunks(source.speak(text, options: TurnOptions(id: "7")))

            #expect(voice.texts == [text + " "])
            // Byte for byte and in order: what the voice made is what the turn handed out.
            #expect(chunks.flatMap(\.audio) == voice.audio(for: text + " "))
            #expect(chunks.allSatisfy { $0.turnID == "7" })
            #expect(alignedText(chunks) == text + " ")
            let record = try #require(emulator.requests.first)
            #expect(chunks.count == record.audioMessagesSent)
            #expect(record.headers["xi-api-key"] == "<redacted>")
            #expect(record.uri == "/v1/text-to-speech/voice1/multi-stream-input?model_id=eleven_flash_v2_5&output_format=ulaw_8000&sync_alignment=true")
            #expect(record.messages == [
                #"{"text":" ","context_id":"ctx-1","generation_config":{"chunk_length_schedule":[120,160,250,290]}}"#,
                #"{"text":"Hello there, this is a test of the bridge. ","context_id":"ctx-1","flush":true}"#,
                #"{"context_id":"ctx-1","close_context":true}"#,
            ])
            try await eventually("metrics") { metrics.all.count == 1 }
            let m = try #require(metrics.all.first)
            #expect(m.turnID == "7")
            #expect(m.outcome == .completed)
            #expect(m.chunks == chunks.count)
            #expect(m.audioBytes == voice.audio(for: text + " ").count)
            #expect(m.characters == text.count + 1)
            #expect(m.timeToFirstAudio != nil)
        }
    }

    @Test func streamedTokensGoOutAsClausesThenFlushAndCloseTheContext() async throws {
        let voice = KnownVoice()
        try await withElevenLabsEmulator(voice: voice) { emulator, port in
            // No timer cut in this test: only boundaries decide.
            let source = try webSocketSource(port: port) { $0.chunkerMaxWait = .seconds(60) }
            defer { source.close() }
            let turn = source.startTurn(TurnOptions(id: "1"))
            for token in ["Hel", "lo", ",", " wor", "ld", ".", " How", " are", " you", "?"] { turn.send(text: token) }
            turn.finish()
            let chunks = try await allChunks(turn)
            #expect(voice.texts == ["Hello, world. How are you? "])
            #expect(chunks.flatMap(\.audio) == voice.audio(for: "Hello, world. How are you? "))
            #expect(socketMessages(emulator) == [
                #"{"text":" ","context_id":"ctx-1","generation_config":{"chunk_length_schedule":[120,160,250,290]}}"#,
                #"{"text":"Hello, ","context_id":"ctx-1","try_trigger_generation":true}"#,
                #"{"text":"world. ","context_id":"ctx-1","try_trigger_generation":true}"#,
                #"{"text":"How are you? ","context_id":"ctx-1","flush":true}"#,
                #"{"context_id":"ctx-1","close_context":true}"#,
            ])
        }
    }

    @Test func voiceSettingsGoOnlyInTheSocketsFirstMessage() async throws {
        let voice = KnownVoice(msPerCharacter: 5)
        try await withElevenLabsEmulator(voice: voice) { emulator, port in
            let source = try webSocketSource(port: port) {
                $0.voiceSettings = ElevenLabsVoiceSettings(stability: 0.4, similarityBoost: 0.8, speed: 1.05)
                $0.schedule = .dialogue
            }
            defer { source.close() }
            _ = try await allChunks(source.speak("One.", options: TurnOptions(id: "1")))
            _ = try await allChunks(source.speak("Two.", options: TurnOptions(id: "2")))
            #expect(voice.texts == ["One. ", "Two. "])
            let messages = socketMessages(emulator)
            #expect(messages.first == #"{"text":" ","context_id":"ctx-1","voice_settings":{"stability":0.4,"similarity_boost":0.8,"speed":1.05},"generation_config":{"chunk_length_schedule":[80,120,160,200]}}"#)
            #expect(messages.contains(#"{"text":" ","context_id":"ctx-2"}"#))
            #expect(messages.filter { $0.contains("voice_settings") }.count == 1)
            #expect(emulator.requests.count == 1, "both turns on one socket")
        }
    }

    @Test func bargeInClosesTheContextAndDropsItsLateAudio() async throws {
        let voice = KnownVoice()
        var configuration = ElevenLabsEmulatorConfiguration()
        configuration.faults.speed = 4  // Paced, so audio is still coming when the caller interrupts.
        try await withElevenLabsEmulator(configuration, voice: voice) { emulator, port in
            let source = try webSocketSource(port: port)
            defer { source.close() }
            // A streamed turn, not finished: its context stays open (no close_context yet) while
            // the clauses already sent are spoken.
            let long = String(repeating: "This reply goes on and on. ", count: 4)
            let turn = source.startTurn(TurnOptions(id: "1"))
            turn.send(text: long)
            var iterator = turn.chunks.makeAsyncIterator()
            let first = try #require(try await iterator.next())
            #expect(first.turnID == "1")
            #expect(!socketMessages(emulator).contains { $0.contains("close_context") })
            turn.cancel()
            // Nothing of the cancelled turn reaches the consumer after the cancel.
            #expect(try await iterator.next() == nil)
            try await eventually("close_context") { socketMessages(emulator).contains(#"{"context_id":"ctx-1","close_context":true}"#) }

            // The service finishes the generation in flight; all of it is dropped, and the next
            // turn gets only its own audio.
            let next = try await allChunks(source.speak("Next.", options: TurnOptions(id: "2")))
            #expect(next.allSatisfy { $0.turnID == "2" })
            #expect(next.flatMap(\.audio) == voice.audio(for: "Next. "))
            // The service went on sending the cancelled context's audio (about 34 messages at this
            // pace); none of it reached either turn.
            try await eventually("late audio of the cancelled context") {
                (emulator.requests.first?.audioMessagesSent ?? 0) >= next.count + 10
            }
            #expect(emulator.requests.count == 1)
        }
    }

    @Test func neverMoreThanFiveContextsAndTheRestWait() async throws {
        let voice = KnownVoice(msPerCharacter: 5)
        var configuration = ElevenLabsEmulatorConfiguration()
        configuration.contextCloseDelayMs = 50  // The service frees a closed context's slot late.
        try await withElevenLabsEmulator(configuration, voice: voice) { emulator, port in
            let source = try webSocketSource(port: port)
            defer { source.close() }
            let turns = (1...8).map { source.startTurn(TurnOptions(id: "\($0)")) }
            for (i, turn) in turns.enumerated() { turn.send(text: "Turn \(i + 1) speaks. ") }
            try await eventually("five contexts open") { socketMessages(emulator).filter { $0.hasPrefix(#"{"text":" ","context_id""#) }.count == 5 }
            try await Task.sleep(for: .milliseconds(200))
            #expect(socketMessages(emulator).filter { $0.hasPrefix(#"{"text":" ","context_id""#) }.count == 5, "a sixth waits")
            for turn in turns { turn.finish() }
            for (i, turn) in turns.enumerated() {
                let chunks = try await allChunks(turn)
                #expect(chunks.flatMap(\.audio) == voice.audio(for: "Turn \(i + 1) speaks. "))
            }
            let record = try #require(emulator.requests.first)
            #expect(record.closeCode == nil, "the emulator would close 1008 on a sixth context")
            #expect(record.messages.filter { $0.hasPrefix(#"{"text":" ","context_id""#) }.count == 8)
        }
    }

    @Test func anIdleSocketAndAQuietContextOutliveTheInactivityTimeout() async throws {
        let voice = KnownVoice(msPerCharacter: 5)
        var configuration = ElevenLabsEmulatorConfiguration()
        // Production: 20 s, with keep-alives every 10 s. Here both are scaled down.
        configuration.inactivityTimeout = 1.5
        try await withElevenLabsEmulator(configuration, voice: voice) { emulator, port in
            let source = try webSocketSource(port: port) { $0.keepAliveInterval = .milliseconds(400) }
            defer { source.close() }
            source.prepare()
            try await Task.sleep(for: .seconds(4))
            var record = try #require(emulator.requests.first)
            #expect(record.closeCode == nil, "idle socket closed: \(record.closeReason ?? "")")
            #expect(record.messages.first?.hasPrefix(#"{"text":" ","context_id":"keepalive-"#) == true)
            #expect(record.messages.contains { $0.hasPrefix(#"{"text":"","context_id":"keepalive-"#) })

            // A streamed turn whose text stalls for longer than the timeout.
            let turn = source.startTurn(TurnOptions(id: "1"))
            turn.send(text: "Wait for it. ")
            try await Task.sleep(for: .seconds(3))
            turn.send(text: "Done.")
            turn.finish()
            let chunks = try await allChunks(turn)
            #expect(alignedText(chunks).contains("Done."))
            record = try #require(emulator.requests.first)
            #expect(record.closeCode == nil)
            #expect(emulator.requests.count == 1, "one socket all along")
            #expect(record.messages.contains(#"{"text":"","context_id":"ctx-2"}"#) || record.messages.contains(#"{"text":"","context_id":"ctx-3"}"#),
                    "the turn's context got keep-alives")
        }
    }

    /// The same at production scale: the service's 20 s inactivity timeout, the default 10 s
    /// keep-alive, and a call that stays quiet for 65 s. It takes over a minute, so it runs when
    /// VOICEBRIDGE_LONG_TESTS=1 (as before a release), not on every CI run.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VOICEBRIDGE_LONG_TESTS"] == "1"))
    func anIdleCallKeepsItsSocketPastSixtySecondsWithTheProductionTimeout() async throws {
        var configuration = ElevenLabsEmulatorConfiguration()
        configuration.inactivityTimeout = 20
        try await withElevenLabsEmulator(configuration, voice: KnownVoice(msPerCharacter: 5)) { emulator, port in
            let source = try webSocketSource(port: port)
            defer { source.close() }
            source.prepare()
            try await Task.sleep(for: .seconds(65))
            let record = try #require(emulator.requests.first)
            #expect(record.closeCode == nil, "idle socket closed: \(record.closeReason ?? "")")
            // And it still speaks on the same socket.
            let chunks = try await allChunks(source.speak("Still here.", options: TurnOptions(id: "1")))
            #expect(alignedText(chunks).contains("Still here."))
            #expect(emulator.requests.count == 1, "one socket all along")
        }
    }

    @Test func aDropMidUtteranceReconnectsAndSaysOnlyTheRest() async throws {
        let voice = KnownVoice()
        var configuration = ElevenLabsEmulatorConfiguration()
        configuration.faults.speed = 1
        configuration.faults.disconnectAfterMs = 300
        try await withElevenLabsEmulator(configuration, voice: voice) { emulator, port in
            let metrics = MetricsLog()
            let source = try webSocketSource(port: port, metrics: metrics)
            defer { source.close() }
            let text = "The quick brown fox jumps over the lazy dog."
            let chunks = try await allChunks(source.speak(text, options: TurnOptions(id: "1")))

            let sockets = emulator.requests.filter { $0.kind == .webSocket }
            try #require(sockets.count == 2)
            #expect(sockets[0].closeCode == 1006)
            #expect(voice.texts.count == 2)
            // What the first socket delivered, by alignment, and what went again on the second.
            let firstSocketChunks = sockets[0].audioMessagesSent
            let spoken = alignedText(Array(chunks.prefix(firstSocketChunks)))
            let resent = try #require(sentTexts(sockets[1].messages).first)
            #expect(!spoken.isEmpty)
            #expect(spoken.count < text.count)
            #expect(resent == String(text.dropFirst(spoken.count).drop(while: \.isWhitespace)) + " ")
            #expect(voice.texts[1] == resent)
            // Nothing twice, nothing lost.
            #expect(alignedText(chunks).filter { !$0.isWhitespace } == text.filter { !$0.isWhitespace })
            try await eventually("metrics") { metrics.all.count == 1 }
            #expect(metrics.all.first?.reconnects == 1)
            #expect(metrics.all.first?.contextIDs == ["ctx-1", "ctx-2"])
        }
    }

    @Test func quotaAndBadKeysAreTypedErrors() async throws {
        var configuration = ElevenLabsEmulatorConfiguration()
        configuration.faults.quotaExceeded = true
        try await withElevenLabsEmulator(configuration) { _, port in
            let source = try webSocketSource(port: port)
            defer { source.close() }
            await #expect {
                _ = try await allChunks(source.speak("Hello.", options: TurnOptions(id: "1")))
            } throws: { error in
                guard case .quotaExceeded(let reason) = error as? ElevenLabsWebSocketError else { return false }
                return reason.hasPrefix("This request exceeds your quota")
            }
        }
        try await withElevenLabsEmulator { _, port in
            // The emulator closes 1008 in the same read as the 101.
            let source = try webSocketSource(port: port) { $0.apiKey = "wrong-key" }
            defer { source.close() }
            await #expect(throws: ElevenLabsWebSocketError.invalidAPIKey("Invalid API key")) {
                _ = try await allChunks(source.speak("Hello.", options: TurnOptions(id: "1")))
            }
        }
    }

    @Test func connectionRefusedFailsTheTurnAtOnce() async throws {
        let port = try await unusedLoopbackPort()
        let source = try webSocketSource(port: port)
        defer { source.close() }
        let started = ContinuousClock.now
        await #expect {
            _ = try await allChunks(source.speak("Hello.", options: TurnOptions(id: "1")))
        } throws: { error in
            guard case .connectFailed = error as? ElevenLabsWebSocketError else { return false }
            return true
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}

/// The client on its own, on the single-context endpoint.
@Suite(.timeLimit(.minutes(1)))
struct ElevenLabsWebSocketClientTests {
    final class Events: Sendable {
        let stream: AsyncStream<ElevenLabsWebSocketEvent>
        let continuation: AsyncStream<ElevenLabsWebSocketEvent>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream() }
    }

    @Test func streamInputSpeaksUntilTheEndOfInputThenClosesNormally() async throws {
        let voice = KnownVoice(msPerCharacter: 10)
        try await withElevenLabsEmulator(voice: voice) { emulator, port in
            let client = try ElevenLabsWebSocketClient(configuration: webSocketConfiguration(port: port), logger: quietLogger("ws"))
            let events = Events()
            let connection = try await client.connect(.streamInput) { event in
                events.continuation.yield(event)
                if case .closed = event { events.continuation.finish() }
            }.get()
            connection.send(.initialize(contextID: nil, voiceSettings: nil, schedule: .speed))
            connection.send(.text("Single context, ", contextID: nil, tryTriggerGeneration: true))
            connection.send(.keepAlive(contextID: nil))
            connection.send(.text("then the end.", contextID: nil))
            connection.send(.endOfInput)
            var audio: [UInt8] = []
            var finals = 0
            var closedWith: ElevenLabsWebSocketError??
            for await event in events.stream {
                switch event {
                case .message(let m):
                    audio += m.audio ?? []
                    if m.isFinal { finals += 1 }
                    #expect(m.contextID == nil)
                case .closed(let error):
                    closedWith = .some(error)
                }
            }
            #expect(finals == 1)
            #expect(closedWith == .some(nil), "a normal close")
            #expect(voice.texts.joined() == "Single context,  then the end. ")
            #expect(audio == voice.texts.flatMap { voice.audio(for: $0) })
            #expect(socketMessages(emulator) == [
                #"{"text":" ","generation_config":{"chunk_length_schedule":[50,75,100,150]}}"#,
                #"{"text":"Single context, ","try_trigger_generation":true}"#,
                #"{"text":" "}"#,
                #"{"text":"then the end. "}"#,
                #"{"text":""}"#,
            ])
        }
    }
}

/// The socket lives on the call's loop, and its chunks reach the call there without a hop.
@Suite(.timeLimit(.minutes(2)))
struct ElevenLabsOneLoopTests {
    @Test func chunksReachTheConsumerOnTheSocketsLoopWithoutAHop() async throws {
        let voice = KnownVoice()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        try await withElevenLabsEmulator(voice: voice) { _, port in
            let callLoop = group.next()
            let client = try ElevenLabsWebSocketClient(configuration: webSocketConfiguration(port: port), group: group, logger: quietLogger("ws"))
            let ws = ElevenLabsWebSocketSpeechSource(client: client, eventLoop: callLoop, logger: quietLogger("ws"))
            // The production chain: the WebSocket first, behind the fallback.
            let source = FallbackSpeechSource([ws], logger: quietLogger("fallback"))
            defer { source.close() }
            let text = "Hello there, this is a test of the bridge. It has two sentences."
            let log = DeliveryLog()
            try await callLoop.submit {
                let turn = source.speak(text, options: TurnOptions(id: "1"))
                turn.deliver(on: callLoop) { delivery in log.append(delivery, onLoop: callLoop.inEventLoop) }
            }.get()
            try await eventually("turn finished") { log.finished }
            #expect(log.audio == TextChunker.sentencePieces(text).flatMap { voice.audio(for: $0) })
            #expect(log.chunks > 0)
            #expect(log.allOnLoop, "every delivery ran on the call's loop")
            #expect(ws.deliveries.hoppedDeliveries == 0)
            #expect(ws.deliveries.directDeliveries == log.chunks + 1, "each chunk and the end, in the socket's own event-loop turn")
        }
        try await group.shutdownGracefully()
    }
}

private final class DeliveryLog: Sendable {
    private struct State {
        var audio: [UInt8] = []
        var chunks = 0
        var finished = false
        var allOnLoop = true
    }
    private let state = Mutex(State())
    func append(_ delivery: SpeechDelivery, onLoop: Bool) {
        state.withLock { s in
            s.allOnLoop = s.allOnLoop && onLoop
            switch delivery {
            case let .chunk(chunk):
                s.chunks += 1
                s.audio += chunk.audio
            case .finished, .failed: s.finished = true
            }
        }
    }
    var audio: [UInt8] { state.withLock { $0.audio } }
    var chunks: Int { state.withLock { $0.chunks } }
    var finished: Bool { state.withLock { $0.finished } }
    var allOnLoop: Bool { state.withLock { $0.allOnLoop } }
}
