import Foundation
import NIOCore
import Testing
import VoiceBridgeEmulators

/// `multi-stream-input` over a real socket, against shared/docs/elevenlabs.md §2 and §10.9.
@Suite struct ElevenLabsEmulatorMultiContextTests {
    @Test func contextsCarryContextIdAndCloseContextEndsWithOneIsFinal() async throws {
        let voice = KnownVoice()
        try await withEmulator(speech: voice) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.multi(), headers: validKey)
            try await socket.send(#"{"text":" ","voice_settings":{"stability":0.5,"similarity_boost":0.8},"context_id":"turn1"}"#)
            try await socket.send(#"{"text":"Hello there. ","context_id":"turn1","flush":true}"#)
            try await socket.send(#"{"context_id":"turn1","close_context":true}"#)
            var audio: [UInt8] = []
            var finals: [String] = []
            // Until the isFinal (a loaded machine can pause longer than one quiet window).
            var events: [TestWebSocket.Event] = []
            for _ in 0..<10 where !events.contains(where: { if case .text(let t) = $0 { t.contains("isFinal\":true") } else { false } }) {
                events += await socket.quietMessages(for: .milliseconds(800))
            }
            for event in events {
                guard case .text(let text) = event else { Issue.record("unexpected \(event)"); continue }
                let message = try TestServerMessage(text)
                if message.audio != nil {
                    #expect(finals.isEmpty, "audio after isFinal")
                    #expect(message.contextId == "turn1")
                    #expect(TestServerMessage.keys(text) == ["audio", "isFinal", "normalizedAlignment", "alignment", "contextId"])
                    audio += message.audioBytes
                } else {
                    finals.append(text)
                }
            }
            // camelCase isFinal and contextId, exactly once, after all the audio of the flush.
            #expect(finals == [#"{"isFinal":true,"contextId":"turn1"}"#])
            #expect(Bytes(audio) == Bytes(KnownVoice().audio(for: "Hello there. ")))
            #expect(voice.texts == ["Hello there. "])
        }
    }

    @Test func flushAloneNeverSendsIsFinal() async throws {
        try await withEmulator { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.multi(), headers: validKey)
            try await socket.send(#"{"text":" ","context_id":"a"}"#)
            try await socket.send(#"{"text":"Hi. ","context_id":"a","flush":true}"#)
            // The audio, however late a loaded machine makes it, then a quiet window: no isFinal.
            var events: [TestWebSocket.Event] = []
            for _ in 0..<10 where events.isEmpty { events += await socket.quietMessages(for: .milliseconds(600)) }
            events += await socket.quietMessages(for: .milliseconds(600))
            #expect(!events.isEmpty)
            for case .text(let text) in events { #expect(try TestServerMessage(text).isFinal == nil) }
        }
    }

    @Test func closeContextDropsUnflushedTextAndStopsThatContextOnly() async throws {
        let voice = KnownVoice()
        // Real-time pacing so both contexts are mid-stream together.
        let configuration = ElevenLabsEmulatorConfiguration(faults: .init(speed: 4))
        try await withEmulator(configuration, speech: voice) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.multi(), headers: validKey)
            try await socket.send(#"{"text":" ","context_id":"old"}"#)
            try await socket.send(#"{"text":"Never spoken because it is never flushed. ","context_id":"old"}"#)
            try await socket.send(#"{"text":" ","context_id":"new"}"#)
            try await socket.send(#"{"text":"Spoken. ","context_id":"new","flush":true}"#)
            try await socket.send(#"{"context_id":"old","close_context":true}"#)
            var byContext: [String: [UInt8]] = [:]
            var finals: [String] = []
            for event in await socket.quietMessages(for: .milliseconds(1000)) {
                guard case .text(let text) = event else { continue }
                let message = try TestServerMessage(text)
                if message.isFinal == true {
                    finals.append(message.contextId ?? "")
                } else if let id = message.contextId {
                    #expect(!finals.contains(id), "audio for \(id) after its isFinal")
                    byContext[id, default: []] += message.audioBytes
                }
            }
            #expect(finals == ["old"])
            #expect(byContext["old"] == nil)
            #expect(byContext["new"].map(Bytes.init) == Bytes(KnownVoice().audio(for: "Spoken. ")))
            #expect(voice.texts == ["Spoken. "])
            // The id can be reused: a new context with no link to the old one.
            try await socket.send(#"{"text":"Back again. ","context_id":"old","flush":true}"#)
            guard case .text(let text) = await socket.next() else { Issue.record("reused id got nothing"); return }
            #expect(try TestServerMessage(text).contextId == "old")
        }
    }

    @Test func sixthContextSendsTheErrorThenCloses1008() async throws {
        try await withEmulator { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.multi(), headers: validKey)
            for id in 1...5 { try await socket.send(#"{"text":" ","context_id":"c\#(id)"}"#) }
            #expect(await socket.quietMessages(for: .milliseconds(200)).isEmpty)
            // A flush to an unknown id creates a context too (pipecat #4126).
            try await socket.send(#"{"context_id":"c6","flush":true}"#)
            let full = "Maximum simultaneous contexts per WebSocket connection exceeded (5). Please close an existing context before opening a new one."
            #expect(await socket.next() == .text(#"{"message":"\#(full)","error":"max_active_conversations","code":1008}"#))
            // The reason is cut to fit a close frame (RFC 6455: 123 bytes at most).
            #expect(await socket.next() == .close(code: 1008, reason: String(full.utf8.prefix(120))!))
        }
    }

    @Test func closedContextsFreeTheirSlot() async throws {
        try await withEmulator { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.multi(), headers: validKey)
            for round in 0..<3 {
                for id in 1...5 { try await socket.send(#"{"text":" ","context_id":"r\#(round)c\#(id)"}"#) }
                for id in 1...5 { try await socket.send(#"{"context_id":"r\#(round)c\#(id)","close_context":true}"#) }
                // Each round's five isFinals, read one by one (a fixed window missed them, or caught
                // the next round's, on a loaded machine); then nothing more for the round.
                for _ in 1...5 {
                    guard case .text(let text) = await socket.next() else {
                        Issue.record("round \(round): no isFinal")
                        return
                    }
                    #expect(try TestServerMessage(text).isFinal == true)
                }
                #expect(await socket.quietMessages(for: .milliseconds(100)).isEmpty)
            }
        }
    }

    @Test func asynchronousCloseStillCountsUntilFreed() async throws {
        // 3 s: a loaded machine once took longer than 0.8 s between the isFinal and the next send.
        let configuration = ElevenLabsEmulatorConfiguration(contextCloseDelayMs: 3_000)
        try await withEmulator(configuration) { _, port in
            // Right after its isFinal, a closed context still counts: a new one is the 6th.
            let busy = try await TestWebSocket.connect(port: port, path: Paths.multi(), headers: validKey)
            for id in 1...5 { try await busy.send(#"{"text":" ","context_id":"c\#(id)"}"#) }
            try await busy.send(#"{"context_id":"c1","close_context":true}"#)
            #expect(await busy.next() == .text(#"{"isFinal":true,"contextId":"c1"}"#))
            try await busy.send(#"{"text":" ","context_id":"c6"}"#)
            guard case .text(let text) = await busy.next() else { Issue.record("no error"); return }
            #expect(try TestServerMessage(text).error == "max_active_conversations")

            // Once the delay has passed, the slot is free.
            let freed = try await TestWebSocket.connect(port: port, path: Paths.multi(), headers: validKey)
            for id in 1...5 { try await freed.send(#"{"text":" ","context_id":"c\#(id)"}"#) }
            try await freed.send(#"{"context_id":"c1","close_context":true}"#)
            #expect(await freed.next() == .text(#"{"isFinal":true,"contextId":"c1"}"#))
            try await Task.sleep(for: .milliseconds(3_400))
            try await freed.send(#"{"text":" ","context_id":"c6"}"#)
            #expect(await freed.quietMessages(for: .milliseconds(300)).isEmpty)
        }
    }

    /// Sends `count` keep-alives for `context`, one every 250 ms, calling `between` after each.
    /// A machine that stalls this task for longer than the socket's inactivity timeout makes the
    /// emulator right to close it: then this says so and returns false, and the test has nothing
    /// to judge. Without such a stall a close is the emulator's fault and fails the test.
    static func keepAlive(
        _ socket: TestWebSocket, context: String, count: Int, timeout: Duration, between: () async -> Void = {}
    ) async throws -> Bool {
        let clock = ContinuousClock()
        var last = clock.now
        var longest = Duration.zero
        for _ in 0..<count {
            try await Task.sleep(for: .milliseconds(250))
            longest = max(longest, clock.now - last)
            do {
                try await socket.send(#"{"text":"","context_id":"\#(context)"}"#)
            } catch where longest >= timeout - .milliseconds(500) {
                print("inconclusive: the test was stalled \(longest) between keep-alives, against a \(timeout) timeout")
                return false
            }
            last = clock.now
            await between()
        }
        return true
    }

    @Test func emptyTextIsAKeepAliveNotAnEnd() async throws {
        try await withEmulator { _, port in
            // Keep-alives every 250 ms for 4.5 s against a 4 s timeout: wide margins, because a
            // loaded machine can stall a test's task for well over a second.
            let socket = try await TestWebSocket.connect(port: port, path: Paths.multi("output_format=ulaw_8000&inactivity_timeout=4"), headers: validKey)
            try await socket.send(#"{"text":" ","context_id":"a"}"#)
            guard try await Self.keepAlive(socket, context: "a", count: 18, timeout: .seconds(4)) else { return }
            #expect(await socket.quietMessages(for: .milliseconds(200)).isEmpty)
            try await socket.send(#"{"text":"Still here. ","context_id":"a","flush":true}"#)
            guard case .text = await socket.next() else { Issue.record("context did not survive keep-alives"); return }
        }
    }

    @Test func anIdleContextIsClosedWhileAnotherIsKeptAlive() async throws {
        // Keep-alives every 250 ms against a 4 s timeout: a loaded machine that stalls the test
        // for seconds still keeps the socket and the busy context open.
        try await withEmulator(ElevenLabsEmulatorConfiguration(inactivityTimeout: 4)) { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.multi(), headers: validKey)
            try await socket.send(#"{"text":" ","context_id":"idle"}"#)
            try await socket.send(#"{"text":" ","context_id":"busy"}"#)
            var events: [TestWebSocket.Event] = []
            guard try await Self.keepAlive(socket, context: "busy", count: 18, timeout: .seconds(4), between: {
                events += await socket.quietMessages(for: .milliseconds(1))
            }) else { return }
            events += await socket.quietMessages(for: .milliseconds(100))
            // The idle one is closed as by close_context; the socket stays open.
            #expect(events == [.text(#"{"isFinal":true,"contextId":"idle"}"#)])
        }
    }

    @Test func settingsOnALaterMessageOfAContextClose1008() async throws {
        try await withEmulator { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.multi(), headers: validKey)
            // Created by a keep-alive, so without settings (pipecat #4541).
            try await socket.send(#"{"text":"","context_id":"a"}"#)
            try await socket.send(#"{"text":"Hi ","context_id":"a","voice_settings":{"stability":0.5,"similarity_boost":0.8}}"#)
            #expect(await socket.next() == .close(code: 1008, reason: ElevenLabsEmulatorProtocol.voiceSettingsReason))
        }
    }

    @Test func closeSocketFinishesFlushesThenCloses1000() async throws {
        try await withEmulator { _, port in
            let socket = try await TestWebSocket.connect(port: port, path: Paths.multi(), headers: validKey)
            try await socket.send(#"{"text":" ","context_id":"a"}"#)
            try await socket.send(#"{"text":"Last words. ","context_id":"a","flush":true}"#)
            try await socket.send(#"{"close_socket":true}"#)
            let (messages, end) = await socket.collect()
            #expect(end == .close(code: 1000, reason: ""))
            #expect(Bytes(try audioMessages(messages).flatMap(\.audioBytes)) == Bytes(KnownVoice().audio(for: "Last words. ")))
        }
    }
}
