import Foundation
import NIOCore
import Testing
import VoiceBridgeEmulators
import VoiceBridgeSpeech

/// A known prompt goes to ElevenLabs a sentence at a time, a bounded lead ahead of the caller's
/// ear, so a barge-in stops generation after the sentence in flight (the emulator's request log
/// says what was sent).
@Suite(.timeLimit(.minutes(1)))
struct ElevenLabsJustInTimeTests {
    /// Ten sentences of 400 ms each (20 characters at 20 ms).
    static let sentences = (1...10).map { "Sentence number \(String(format: "%02d", $0))." }
    static var prompt: String { sentences.joined(separator: " ") }

    /// Speaks the prompt, barges in `bargeInMs` after its first audio, and returns the texts the
    /// service was sent, with how many sentences it may have been sent by then (`allowedSentences`);
    /// nil when the first audio took a second or more: on a machine that loaded the source
    /// rightly takes the service for too slow to pace, and there is nothing to judge.
    static func bargeIn(afterMs bargeInMs: Int, lead: Duration) async throws -> (sent: [String], allowed: Int)? {
        try await withElevenLabsEmulator(voice: KnownVoice(msPerCharacter: 20)) { emulator, port in
            let source = try webSocketSource(port: port) { $0.textLead = lead }
            defer { source.close() }
            let start = ContinuousClock.now
            let turn = source.speak(prompt, options: TurnOptions(id: "menu"))
            var firstAudio: ContinuousClock.Instant?
            for try await _ in turn.chunks {
                if firstAudio == nil {
                    firstAudio = .now
                    break
                }
            }
            try await Task.sleep(until: try #require(firstAudio) + .milliseconds(bargeInMs))
            let cancelledAt = ContinuousClock.now
            turn.cancel()
            try await Task.sleep(for: .milliseconds(500))  // anything still to come would come now
            // A loaded machine may deliver the close later than that: wait for it (bounded).
            var messages = socketMessages(emulator)
            for _ in 0..<50 where !messages.contains(where: { $0.contains(#""close_context":true"#) }) {
                try await Task.sleep(for: .milliseconds(100))
                messages = socketMessages(emulator)
            }
            if try #require(firstAudio) - start >= .seconds(1), lead > .zero { return nil }
            #expect(messages.contains { $0.contains(#""close_context":true"#) }, "the context was closed at the barge-in")
            let leadMs = Int(lead.components.seconds * 1000 + lead.components.attoseconds / 1_000_000_000_000_000)
            return (sentTexts(messages).filter { $0.contains("Sentence") }, allowedSentences(from: start, to: cancelledAt, leadMs: leadMs))
        }
    }

    @Test func aPromptBargedIntoAfterItsSecondSentenceIsGeneratedOnlyUpToTheSentenceInFlight() async throws {
        // At 850 ms the caller hears sentence 3; with 300 ms of lead, sentence 3 (and at worst 4,
        // on a late timer) is all that went out, unloaded; a loaded machine may send fewer, never
        // more than the time that really passed allows.
        guard let (sent, allowed) = try await Self.bargeIn(afterMs: 850, lead: .milliseconds(300)) else { return }
        #expect(sent.count >= 1 && sent.count <= allowed, "sent: \(sent), \(allowed) allowed")
        #expect(sent == Array(TextChunker.sentencePieces(Self.prompt).prefix(sent.count)), "in order, each sentence once")
    }

    @Test func withoutALeadTheWholePromptIsSentAtOnce() async throws {
        let sent = try #require(try await Self.bargeIn(afterMs: 850, lead: .zero)).sent
        #expect(sent.joined().contains("Sentence number 10."), "sent: \(sent)")
    }

    @Test func twentyBargeInsTwoHundredMillisecondsApartNeverMeetTheFiveContextLimit() async throws {
        try await withElevenLabsEmulator(voice: KnownVoice(msPerCharacter: 20)) { emulator, port in
            let source = try webSocketSource(port: port)
            defer { source.close() }
            for i in 0..<20 {
                let turn = source.speak(Self.prompt, options: TurnOptions(id: "t\(i)"))
                try await Task.sleep(for: .milliseconds(200))
                turn.cancel()
            }
            // Turns wait for a free slot rather than fail; the last one is heard whole.
            let chunks = try await allChunks(source.speak("And the last one.", options: TurnOptions(id: "last")))
            #expect(alignedText(chunks) == "And the last one. ")
            let sockets = emulator.requests.filter { $0.kind == .webSocket }
            #expect(sockets.count == 1, "no socket was lost to an error")
            #expect(!sockets.flatMap(\.messages).isEmpty)
            #expect(sockets.allSatisfy { ($0.closeCode ?? 1000) == 1000 }, "\(sockets.map(\.closeCode))")
        }
    }

    @Test func anUninterruptedPromptIsHeardWholeInOrder() async throws {
        try await withElevenLabsEmulator(voice: KnownVoice(msPerCharacter: 5)) { emulator, port in
            let source = try webSocketSource(port: port) { $0.textLead = .milliseconds(200) }
            defer { source.close() }
            let chunks = try await allChunks(source.speak(Self.prompt, options: TurnOptions(id: "menu")))
            #expect(alignedText(chunks) == TextChunker.sentencePieces(Self.prompt).joined())
            // A sentence per message, or (should the service seem too slow for the lead on a
            // loaded machine) the rest in one: every sentence once, in order.
            let sent = sentTexts(socketMessages(emulator)).filter { $0.contains("Sentence") }
            #expect(sent.joined() == TextChunker.sentencePieces(Self.prompt).joined(), "\(sent)")
        }
    }

    /// The most sentences (400 ms each) a just-in-time turn may have sent by `cancelledAt`: as
    /// many as the playhead can have reached, counted from `start` (no later than the first
    /// audio, however late a loaded machine runs this test), a lead's worth more, and one in
    /// flight. Unloaded, a barge-in 850 ms in allows 4 of the 10.
    static func allowedSentences(from start: ContinuousClock.Instant, to cancelledAt: ContinuousClock.Instant, leadMs: Int) -> Int {
        let elapsed = cancelledAt - start
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return Int(((ms + Double(leadMs)) / 400).rounded(.up)) + 1
    }

    // MARK: Streamed text

    @Test func aStreamedReplyIsSentJustInTimeAndABargeInLeavesTheRestUnsent() async throws {
        try await withElevenLabsEmulator(voice: KnownVoice(msPerCharacter: 20)) { emulator, port in
            let source = try webSocketSource(port: port) { $0.textLead = .milliseconds(300) }
            defer { source.close() }
            // A fast LLM: the whole reply arrives before any audio.
            let start = ContinuousClock.now
            let turn = source.startTurn(TurnOptions(id: "reply"))
            for sentence in Self.sentences { turn.send(text: sentence + " ") }
            var firstAudio: ContinuousClock.Instant?
            for try await _ in turn.chunks {
                firstAudio = .now
                break
            }
            try await Task.sleep(until: try #require(firstAudio) + .milliseconds(850))
            let cancelledAt = ContinuousClock.now
            turn.cancel()
            try await Task.sleep(for: .milliseconds(500))
            if try #require(firstAudio) - start >= .seconds(1) { return }  // too loaded to judge (see bargeIn)
            let sent = sentTexts(socketMessages(emulator)).joined()
            let count = Self.sentences.filter { sent.contains($0) }.count
            let allowed = Self.allowedSentences(from: start, to: cancelledAt, leadMs: 300)
            #expect(sent.hasPrefix("Sentence number 01."), "\(sent)")
            #expect(count <= allowed, "held text was never sent: \(count) sent, \(allowed) allowed: \(sent)")
        }
    }

    @Test func anUninterruptedStreamedReplyIsHeardWholeInOrder() async throws {
        try await withElevenLabsEmulator(voice: KnownVoice(msPerCharacter: 5)) { _, port in
            let source = try webSocketSource(port: port) { $0.textLead = .milliseconds(200) }
            defer { source.close() }
            let turn = source.startTurn(TurnOptions(id: "reply"))
            for sentence in Self.sentences { turn.send(text: sentence + " ") }
            turn.finish()
            let heard = alignedText(try await allChunks(turn))
            #expect(heard.filter { !$0.isWhitespace } == Self.prompt.filter { !$0.isWhitespace }, "\(heard)")
        }
    }

    // MARK: HTTP

    static func httpSource(port: Int, lead: Duration) -> ElevenLabsHTTPSpeechSource {
        var configuration = ElevenLabsHTTPSpeechSource.Configuration(
            apiKey: ElevenLabsEmulatorConfiguration.defaultAPIKey, baseURL: "http://127.0.0.1:\(port)", voiceID: "voice1")
        configuration.textLead = lead
        return ElevenLabsHTTPSpeechSource(configuration: configuration, logger: quietLogger("http"))
    }

    /// The JSON bodies of the emulator's HTTP speech requests, in order.
    static func httpBodies(_ emulator: ElevenLabsEmulator) -> [[String: Any]] {
        emulator.requests.filter { $0.kind == .http }.compactMap { request in
            request.body.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
    }

    @Test func overHTTPABargedInPromptIsRequestedOnlyUpToTheSentenceInFlightWithItsNeighbours() async throws {
        try await withElevenLabsEmulator(voice: KnownVoice(msPerCharacter: 20)) { emulator, port in
            let start = ContinuousClock.now
            let turn = Self.httpSource(port: port, lead: .milliseconds(300)).speak(Self.prompt, options: TurnOptions(id: "menu"))
            var firstAudio: ContinuousClock.Instant?
            for try await _ in turn.chunks {
                firstAudio = .now
                break
            }
            try await Task.sleep(until: try #require(firstAudio) + .milliseconds(850))
            let cancelledAt = ContinuousClock.now
            turn.cancel()
            try await Task.sleep(for: .milliseconds(500))
            // A first audio a second late (a machine this loaded) reads as a slow service, for
            // which the source rightly stops pacing; there is nothing to judge then.
            if try #require(firstAudio) - start >= .seconds(1) {
                print("first audio after \(try #require(firstAudio) - start): too loaded to judge pacing")
                return
            }
            let bodies = Self.httpBodies(emulator)
            let pieces = TextChunker.sentencePieces(Self.prompt)
            let texts = bodies.compactMap { $0["text"] as? String }
            let allowed = Self.allowedSentences(from: start, to: cancelledAt, leadMs: 300)
            #expect(!texts.isEmpty && texts.count <= allowed, "requested: \(texts), \(allowed) allowed")
            #expect(texts == Array(pieces.prefix(texts.count)), "a sentence per request, in order")
            #expect(bodies.first?["previous_text"] == nil)
            #expect(bodies.first?["next_text"] as? String == pieces[1], "the next sentence, for prosody")
            if texts.count > 1 { #expect(bodies[1]["previous_text"] as? String == pieces[0]) }
            // Counted as it goes out: a request the barge-in aborted on its way may be counted
            // without reaching the service's log.
            let logged = texts.joined().count
            #expect(turn.charactersSent >= logged && turn.charactersSent <= logged + (pieces.indices.contains(texts.count) ? pieces[texts.count].count : 0), "\(turn.charactersSent) counted, \(logged) logged")
        }
    }

    @Test func overHTTPWithoutALeadAWholePromptIsOneRequest() async throws {
        try await withElevenLabsEmulator(voice: KnownVoice(msPerCharacter: 5)) { emulator, port in
            let chunks = try await allChunks(Self.httpSource(port: port, lead: .zero).speak(Self.prompt, options: TurnOptions(id: "menu")))
            #expect(!chunks.isEmpty)
            #expect(Self.httpBodies(emulator).count == 1)
        }
    }
}
