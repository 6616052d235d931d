import Synchronization
import Testing
import VoiceBridgeAudio
import VoiceBridgeSpeech

/// These run the real espeak-ng, speexdsp and G.711 code: no doubles.
@Suite(.timeLimit(.minutes(1)))
struct OfflineVoiceTests {
    let voice = OfflineVoice()

    static let story = """
        The offline voice is the last link in the fallback chain. It must keep talking when the \
        network is gone. Every sentence is synthesised on one thread. Chunks go out as soon as they \
        exist. A caller can interrupt at any moment. The bridge then stops the voice at once.
        """

    @Test func speaksAPlausibleUtterance() async throws {
        let chunks = try await collect(voice.speak("Hello, this is VoiceBridge.", options: TurnOptions(id: "hello")))
        let audio = chunks.flatMap(\.chunk.audio)
        let seconds = Double(audio.count) / 8000
        #expect(seconds > 0.8 && seconds < 4, "\(seconds) s")
        #expect(chunks.allSatisfy { $0.chunk.turnID == "hello" })

        let pcm = G711.decode(audio, law: .ulaw)
        #expect(rms(pcm[...]) > 1000, "RMS \(rms(pcm[...]))")
        // Speech has loud stretches and quiet ones, unlike silence or a constant tone.
        let frames = stride(from: 0, to: pcm.count - 160, by: 160).map { rms(pcm[$0..<$0 + 160]) }
        let loud = frames.filter { $0 > 1000 }.count
        let quiet = frames.filter { $0 < 100 }.count
        #expect(loud > frames.count / 3, "\(loud) of \(frames.count) frames loud")
        #expect(quiet > 0, "no pause at all")
    }

    @Test func longTextComesInSeveralChunksTheFirstOneSmall() async throws {
        let chunks = try await collect(voice.speak(Self.story, options: TurnOptions(id: "story")))
        let durations = chunks.map(\.chunk.durationMs)
        #expect(chunks.count > 10)
        #expect(durations[0] <= 100, "first chunk \(durations[0]) ms: it should go out early")
        // Apart from each sentence's first and last chunk, chunks are coalesced to ≥ 200 ms.
        #expect(durations.filter { $0 >= 200 }.count > chunks.count / 3)
        #expect(zip(chunks, chunks.dropFirst()).allSatisfy { $0.at <= $1.at })
        let seconds = durations.reduce(0, +) / 1000
        #expect(seconds > 8 && seconds < 30, "\(seconds) s")
    }

    @Test func streamedTextStartsSpeakingBeforeTheTurnIsFinished() async throws {
        let turn = voice.startTurn(TurnOptions(id: "streamed"))
        let tokens = ["Hello", ",", " this", " is", " Voice", "Bridge", ".", " How", " can", " I", " help", "?", " Bye"]
        // Everything but the end of the turn: a complete first sentence must speak without it.
        for token in tokens { turn.send(text: token) }
        // A safety net only, so a regression fails instead of hanging: it never fires when
        // streaming works, and its firing is what the test checks for.
        let finishedByTimeout = ManagedFlag()
        let net = Task {
            try await Task.sleep(for: .seconds(20))
            finishedByTimeout.set()
            turn.finish()
        }
        var iterator = turn.chunks.makeAsyncIterator()
        let first = try await iterator.next()
        #expect(first != nil)
        #expect(!finishedByTimeout.isSet, "the first sentence spoke before finish()")
        net.cancel()
        turn.finish()
        var chunks = first.map { [$0] } ?? []
        while let c = try await iterator.next() { chunks.append(c) }
        #expect(chunks.count > 2)
        let text = chunks.compactMap(\.alignment).flatMap(\.chars).joined()
        #expect(text == tokens.joined())
    }

    @Test func cancelMidwayEndsTheStreamAtOnce() async throws {
        let turn = voice.speak(Self.story, options: TurnOptions(id: "cancelled"))
        var received: [SpeechChunk] = []
        for try await chunk in turn.chunks {  // Ends without throwing.
            received.append(chunk)
            // espeak runs far ahead of real time: let it synthesise and buffer more, as it would
            // while the call plays the first chunk, then barge in.
            try await Task.sleep(for: .milliseconds(300))
            turn.cancel()
            turn.cancel()  // Idempotent.
        }
        #expect(received.count == 1, "audio synthesised but not taken is dropped by cancel()")
        #expect(received[0].durationMs < 1000)
        // Text after a cancel is ignored, and the stream stays finished.
        turn.send(text: "More words. ")
        turn.finish()
        var late = 0
        for try await _ in turn.chunks { late += 1 }
        #expect(late == 0)
    }

    @Test func cancelBeforeAnyAudioGivesNothing() async throws {
        let turn = voice.startTurn(TurnOptions(id: "early"))
        turn.send(text: "This will never be heard. Nor this.")
        turn.cancel()
        let chunks = try await collect(turn)
        #expect(chunks.isEmpty)
    }

    @Test func cancellingOneTurnLeavesAnotherIntact() async throws {
        let other = "Your balance is forty two dollars. Thank you for calling."
        let alone = try await collect(voice.speak(other, options: TurnOptions(id: "alone")))

        let doomed = voice.speak(Self.story, options: TurnOptions(id: "doomed"))
        let kept = voice.speak(other, options: TurnOptions(id: "kept"))
        async let keptChunks = collect(kept)
        for try await _ in doomed.chunks { doomed.cancel() }
        let survivor = try await keptChunks

        #expect(survivor.allSatisfy { $0.chunk.turnID == "kept" })
        #expect(survivor.compactMap(\.chunk.alignment).flatMap(\.chars).joined() == other)
        let ratio = totalMs(survivor) / totalMs(alone)
        #expect(ratio > 0.9 && ratio < 1.1, "kept \(totalMs(survivor)) ms vs alone \(totalMs(alone)) ms")
    }

    @Test func concurrentTurnsEachGetTheirOwnSpeech() async throws {
        let sentences = [
            ["Press one for sales.", " Press two for support.", " Press three to repeat."],
            ["Your call is important to us.", " Please stay on the line.", " We will be with you shortly."],
            ["Goodbye.", " Have a nice day.", " See you."],
        ]
        var alone: [Double] = []
        for (i, turnSentences) in sentences.enumerated() {
            let solo = voice.speak(turnSentences.joined(), options: TurnOptions(id: "solo\(i)"))
            alone.append(totalMs(try await collect(solo)))
        }
        // Three calls stream their turns at once, sentence by sentence, so the engine's queue
        // interleaves them: call0 s0, call1 s0, call2 s0, call0 s1, ...
        let turns = sentences.indices.map { voice.startTurn(TurnOptions(id: "call\($0)")) }
        let results = try await withThrowingTaskGroup(of: (Int, [Received]).self) { group in
            for (i, turn) in turns.enumerated() {
                group.addTask { (i, try await collect(turn)) }
            }
            for s in 0..<3 {
                for (i, turn) in turns.enumerated() { turn.send(text: sentences[i][s]) }
                try await Task.sleep(for: .milliseconds(5))
            }
            for turn in turns { turn.finish() }
            return try await group.reduce(into: [Int: [Received]]()) { $0[$1.0] = $1.1 }
        }
        for (i, turnSentences) in sentences.enumerated() {
            let chunks = try #require(results[i])
            #expect(chunks.allSatisfy { $0.chunk.turnID == "call\(i)" })
            #expect(chunks.compactMap(\.chunk.alignment).flatMap(\.chars).joined() == turnSentences.joined())
            let ratio = totalMs(chunks) / alone[i]
            #expect(ratio > 0.9 && ratio < 1.1, "turn \(i): \(totalMs(chunks)) ms vs \(alone[i]) ms alone")
        }
    }

    @Test func languagePicksTheVoiceAndFallsBackToItsPrimarySubtag() async throws {
        for language in ["en-US", "fr-FR", "de"] {
            let chunks = try await collect(voice.speak("Bonjour, guten Tag.", options: TurnOptions(id: language, language: language)))
            #expect(totalMs(chunks) > 800, "\(language)")
        }
    }

    @Test func alignmentReproducesTheTextWithMonotonicTimes() async throws {
        let text = "Hello, this is VoiceBridge. Please say one, two or three."
        let chunks = try await collect(voice.speak(text, options: TurnOptions(id: "aligned"))).map(\.chunk)
        let alignments = chunks.compactMap(\.alignment)
        #expect(alignments.count == chunks.count)
        #expect(alignments.flatMap(\.chars).joined() == text)

        var offsetMs = 0.0
        var previous = -1.0
        for chunk in chunks {
            let alignment = try #require(chunk.alignment)
            #expect(alignment.chars.count == alignment.charStartTimesMs.count)
            #expect(alignment.chars.count == alignment.charDurationsMs.count)
            for start in alignment.charStartTimesMs {
                #expect(Double(start) < max(chunk.durationMs, 1), "a character starts inside its chunk")
                let absolute = offsetMs + Double(start)
                #expect(absolute >= previous)
                previous = absolute
            }
            offsetMs += chunk.durationMs
        }
        // "three" is the last word: it is not heard in the first half of the audio.
        var heard = ""
        var elapsed = 0.0
        for chunk in chunks {
            heard += chunk.alignment!.text(heardBefore: offsetMs / 2 - elapsed)
            elapsed += chunk.durationMs
        }
        #expect(heard.hasPrefix("Hello, this"))
        #expect(!heard.contains("three"))
    }

    @Test(arguments: ["", "   ", " ... \n"])
    func emptyTextFinishesWithNoAudioAndNoError(text: String) async throws {
        let chunks = try await collect(voice.speak(text, options: TurnOptions(id: "empty")))
        #expect(chunks.isEmpty)
    }

    @Test func prepareLoadsTheVoiceOrReportsWhyNot() async throws {
        try await voice.prepare()
        await #expect(throws: OfflineVoiceError.voiceNotFound("xx-no-such-voice")) {
            try await OfflineVoice(configuration: .init(voice: "xx-no-such-voice")).prepare()
        }
        await #expect(throws: OfflineVoiceError.dataNotFound(path: "/nonexistent")) {
            try await OfflineVoice(configuration: .init(dataPath: "/nonexistent")).prepare()
        }
    }

    @Test func missingVoiceDataIsATypedError() async throws {
        let broken = OfflineVoice(configuration: .init(dataPath: "/nonexistent/espeak-ng-data"))
        await #expect(throws: OfflineVoiceError.dataNotFound(path: "/nonexistent/espeak-ng-data")) {
            try await collect(broken.speak("Hello.", options: TurnOptions(id: "nodata")))
        }
    }

    @Test func unknownVoiceIsATypedErrorAndTheEngineRecovers() async throws {
        await #expect(throws: OfflineVoiceError.voiceNotFound("xx-no-such-voice")) {
            try await collect(voice.speak("Hello.", options: TurnOptions(id: "novoice", voice: "xx-no-such-voice")))
        }
        let after = try await collect(voice.speak("Still here.", options: TurnOptions(id: "after")))
        #expect(totalMs(after) > 500)
    }

    @Test func rateIsConfigurable() async throws {
        let text = "Please hold while we connect your call."
        let slow = OfflineVoice(configuration: .init(rate: 120))
        let fast = OfflineVoice(configuration: .init(rate: 320))
        let slowMs = totalMs(try await collect(slow.speak(text, options: TurnOptions(id: "slow"))))
        let fastMs = totalMs(try await collect(fast.speak(text, options: TurnOptions(id: "fast"))))
        #expect(fastMs < slowMs * 0.7, "fast \(fastMs) ms, slow \(slowMs) ms")
    }

    @Test func cancellingTheWaitingConsumerTaskCancelsTheTurn() async throws {
        let turn = voice.startTurn(TurnOptions(id: "abandoned"))
        let consumer = Task { try await collect(turn) }  // Waits: no text yet.
        try await Task.sleep(for: .milliseconds(100))
        consumer.cancel()
        #expect(try await consumer.value.isEmpty)
        // The turn went with its task: later text is not spoken.
        turn.send(text: "Anyone there? ")
        turn.finish()
        #expect(try await collect(turn).isEmpty)
    }
}

struct Received: Sendable {
    var chunk: SpeechChunk
    var at: ContinuousClock.Instant
}

func collect(_ turn: any SpeechTurn) async throws -> [Received] {
    var out: [Received] = []
    for try await chunk in turn.chunks {
        out.append(Received(chunk: chunk, at: .now))
    }
    return out
}

func totalMs(_ chunks: [Received]) -> Double {
    chunks.map(\.chunk.durationMs).reduce(0, +)
}

func rms(_ samples: ArraySlice<Int16>) -> Double {
    guard !samples.isEmpty else { return 0 }
    let energy = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
    return (energy / Double(samples.count)).squareRoot()
}

private final class ManagedFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
