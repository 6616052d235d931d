import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import VoiceBridgeAudio
import VoiceBridgeEmulators
import VoiceBridgeSpeech

/// RealtimeTranscriber against the ElevenLabs emulator's speech-to-text socket, over real
/// sockets on loopback: the caller says coded text (SpokenTextCode, what `voicebridge call --say`
/// sends), and the words come back; drops, quota and throttling as the service does them.
@Suite(.timeLimit(.minutes(2)))
struct RealtimeTranscriberTests {
    final class Events: Sendable {
        private let list = Mutex<[RealtimeTranscriber.Event]>([])
        func append(_ e: RealtimeTranscriber.Event) { list.withLock { $0.append(e) } }
        var all: [RealtimeTranscriber.Event] { list.withLock { $0 } }
        var committed: [String] { all.compactMap { if case let .committed(c) = $0 { c.text } else { nil } } }
        var partials: [String] { all.compactMap { if case let .partial(p) = $0 { p } else { nil } } }
    }

    static func configuration(_ change: (inout ElevenLabsEmulatorConfiguration.SpeechToText) -> Void = { _ in }) -> ElevenLabsEmulatorConfiguration {
        var stt = ElevenLabsEmulatorConfiguration.SpeechToText(partialLatencyMs: 20, commitLatencyMs: 20)
        change(&stt)
        return ElevenLabsEmulatorConfiguration(speechToText: stt)
    }

    static func coded(_ text: String) throws -> [UInt8] {
        G711.encode([Int16](repeating: 0, count: 1_600) + (try SpokenTextCode.encode(text)) + [Int16](repeating: 0, count: 2_400), law: .ulaw)
    }

    /// A transcriber on one of the client's loops; `start` opened.
    typealias Bound = NIOLoopBound<RealtimeTranscriber>

    static func transcriber(port: Int, tuning: RealtimeTranscriber.Tuning = .init(), events: Events) async throws -> (Bound, any EventLoop) {
        let client = try ElevenLabsWebSocketClient(configuration: webSocketConfiguration(port: port), logger: quietLogger("stt"))
        let loop = client.nextEventLoop()
        let bound = try await loop.submit {
            let t = RealtimeTranscriber(client: client, settings: ScribeSettings(), eventLoop: loop, tuning: tuning) { events.append($0) }
            t.start()
            return NIOLoopBound(t, eventLoop: loop)
        }.get()
        return (bound, loop)
    }

    /// Caller audio, 20 ms frames, as fast as the loop takes them (the service doesn't pace).
    static func say(_ audio: [UInt8], to bound: Bound, on loop: any EventLoop) async throws {
        for start in stride(from: 0, to: audio.count, by: 160) {
            let frame = Array(audio[start..<min(audio.count, start + 160)])
            try await loop.submit { frame.withUnsafeBytes { bound.value.append($0) } }.get()
        }
    }

    static func on(_ loop: any EventLoop, _ bound: Bound, _ body: @escaping @Sendable (RealtimeTranscriber) -> Void) async throws {
        try await loop.submit { body(bound.value) }.get()
    }

    @Test func codedSpeechComesBackAsPartialsThenOneCommit() async throws {
        try await withElevenLabsEmulator(Self.configuration()) { emulator, port in
            let events = Events()
            let (t, loop) = try await Self.transcriber(port: port, events: events)
            // Once the session is up, so what goes up is paced by the chunker, not by how long the
            // handshake took on a loaded machine (audio appended before it piles up and goes in
            // pieces of up to a second).
            try await eventually("session") { events.all.contains { if case .started = $0 { true } else { false } } }
            try await Self.say(try Self.coded("pay my bill"), to: t, on: loop)
            try await eventually("partials") { events.partials.last == "pay my bill" }
            try await Self.on(loop, t) { $0.commit() }
            try await eventually("commit") { !events.committed.isEmpty }
            #expect(events.committed == ["pay my bill"])
            #expect(events.partials.contains("pay") && events.partials.contains("pay my"))
            #expect(events.all.contains { if case .started = $0 { true } else { false } })
            // μ-law passed through untouched, in chunks of about 100 ms, one commit.
            let session = try #require(emulator.transcriptions.first)
            #expect(session.audioFormat == "ulaw_8000")
            #expect(session.audio == (try Self.coded("pay my bill")))
            #expect(session.chunks.allSatisfy { $0.audioBytes <= 8_000 })
            #expect(session.chunks.contains { $0.audioBytes == 800 })
            #expect(session.commits.count == 1)
            try await Self.on(loop, t) { $0.stop() }
        }
    }

    @Test func aDropMidUtteranceLosesAndDuplicatesNothing() async throws {
        try await withElevenLabsEmulator(Self.configuration { $0.faults.disconnectAfterAudioMs = 900 }) { emulator, port in
            let events = Events()
            let (t, loop) = try await Self.transcriber(port: port, events: events)
            // First a turn that commits before the drop; then one the drop cuts in half.
            try await Self.say(try Self.coded("one"), to: t, on: loop)
            try await Self.on(loop, t) { $0.commit() }
            try await eventually("first commit") { events.committed == ["one"] }
            try await Self.say(try Self.coded("pay my bill"), to: t, on: loop)
            try await eventually("the drop and a new session") { emulator.transcriptions.count >= 2 }
            try await eventually("the replayed segment") { events.partials.last == "pay my bill" }
            try await Self.on(loop, t) { $0.commit() }
            try await eventually("second commit") { events.committed.count == 2 }
            #expect(events.committed == ["one", "pay my bill"])
            #expect(events.all.contains { if case .trouble = $0 { true } else { false } })
            // The new session starts from the open segment, with the committed text as context.
            let second = emulator.transcriptions[1]
            #expect(second.chunks.first?.previousText == "one")
            #expect(second.audio == (try Self.coded("pay my bill")))
            try await Self.on(loop, t) { $0.stop() }
        }
    }

    /// A caller who stays quiet (a menu waiting) costs two seconds of held audio, not ten; what
    /// they say next still reaches the service whole.
    @Test func aQuietCallerHoldsOnlyTheLatestTwoSecondsAndSpeechStillArrivesWhole() async throws {
        try await withElevenLabsEmulator(Self.configuration()) { emulator, port in
            let events = Events()
            let (t, loop) = try await Self.transcriber(port: port, events: events)
            try await eventually("session") { events.all.contains { if case .started = $0 { true } else { false } } }
            let silence = [UInt8](repeating: 0xFF, count: 160)
            for _ in 0..<400 {  // 8 s of silence, quiet all the while
                try await loop.submit { silence.withUnsafeBytes { t.value.append($0) }; t.value.callerIsQuiet() }.get()
            }
            let held = try await loop.submit { t.value.heldAudioBytes }.get()
            #expect(held <= 2_000 * 8 + 800, "held \(held) bytes")
            #expect(held >= 2_000 * 8 - 160)
            try await Self.say(try Self.coded("pay my bill"), to: t, on: loop)
            try await Self.on(loop, t) { $0.commit() }
            try await eventually("commit") { !events.committed.isEmpty }
            #expect(events.committed == ["pay my bill"])
            #expect(emulator.transcriptions.first?.audioSeconds ?? 0 >= 8)
            try await Self.on(loop, t) { $0.stop() }
        }
    }

    @Test func anExhaustedQuotaStopsTheCallsSpeechToTextForGood() async throws {
        try await withElevenLabsEmulator(Self.configuration { $0.faults.quotaExceeded = true }) { emulator, port in
            let events = Events()
            let (t, loop) = try await Self.transcriber(port: port, events: events)
            try await Self.say(try Self.coded("hello"), to: t, on: loop)
            try await eventually("failed") { events.all.contains { if case .failed = $0 { true } else { false } } }
            let failure = events.all.compactMap { if case let .failed(e) = $0 { e } else { nil } }.first
            #expect(failure?.kind == .quota)
            try await Task.sleep(for: .milliseconds(500))
            #expect(emulator.transcriptions.count == 1, "no retry helps a quota")
        }
    }

    @Test func aCommitOfTooLittleAudioIsIgnoredWithoutAsking() async throws {
        try await withElevenLabsEmulator(Self.configuration()) { emulator, port in
            let events = Events()
            let (t, loop) = try await Self.transcriber(port: port, events: events)
            try await Self.say([UInt8](repeating: 0xFF, count: 1_600), to: t, on: loop)
            try await Self.on(loop, t) { $0.commit() }
            #expect(events.all.contains(.commitIgnored))
            try await Task.sleep(for: .milliseconds(200))
            #expect(emulator.transcriptions.first?.commits.isEmpty ?? true)
            try await Self.on(loop, t) { $0.stop() }
        }
    }
}
