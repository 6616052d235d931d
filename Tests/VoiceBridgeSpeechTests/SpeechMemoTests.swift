import Testing
import VoiceBridgeSpeech

@Suite struct SpeechMemoTests {
    private func collect(_ turn: any SpeechTurn) async throws -> [SpeechChunk] {
        var out: [SpeechChunk] = []
        for try await c in turn.chunks { out.append(c) }
        return out
    }

    @Test func identicalPromptIsSynthesisedOnceAndItsBytesAreShared() async throws {
        let memo = SpeechMemo(OfflineVoice())
        let first = try await collect(memo.speak("Welcome to the memo test.", options: TurnOptions(id: "a")))
        let second = try await collect(memo.speak("Welcome to the memo test.", options: TurnOptions(id: "b")))
        #expect(!first.isEmpty)
        #expect(first.map(\.audio) == second.map(\.audio))
        #expect(second.allSatisfy { $0.turnID == "b" })
        #expect(memo.statistics.hits == 1)
        #expect(memo.statistics.misses == 1)
        // Same storage, not a copy: this is what keeps per-call memory flat.
        first[0].audio.withUnsafeBufferPointer { a in
            second[0].audio.withUnsafeBufferPointer { b in #expect(a.baseAddress == b.baseAddress) }
        }
    }

    @Test func differentVoiceOrTextIsADifferentEntry() async throws {
        let memo = SpeechMemo(OfflineVoice())
        _ = try await collect(memo.speak("One.", options: TurnOptions(id: "a")))
        _ = try await collect(memo.speak("Two.", options: TurnOptions(id: "b")))
        _ = try await collect(memo.speak("One.", options: TurnOptions(id: "c", model: "another-model")))
        #expect(memo.statistics.hits == 0)
        #expect(memo.statistics.misses == 3)
    }

    @Test func cancelledUtteranceIsNotRemembered() async throws {
        let memo = SpeechMemo(OfflineVoice())
        let turn = memo.speak("This sentence is cancelled before it is spoken. And so is this one.", options: TurnOptions(id: "a"))
        turn.cancel()
        _ = try await collect(turn)
        _ = try await collect(memo.speak("This sentence is cancelled before it is spoken. And so is this one.", options: TurnOptions(id: "b")))
        #expect(memo.statistics.hits == 0)
    }

    @Test func evictsLeastRecentlyUsedBeyondTheBudget() async throws {
        let memo = SpeechMemo(OfflineVoice(), maxBytes: 30_000)
        _ = try await collect(memo.speak("First prompt here.", options: TurnOptions(id: "a")))
        _ = try await collect(memo.speak("Second prompt here.", options: TurnOptions(id: "b")))
        _ = try await collect(memo.speak("Third prompt here.", options: TurnOptions(id: "c")))
        #expect(memo.statistics.bytes <= 30_000)
    }
}
