import Testing
import VoiceBridgeSpeech

@Suite struct SpeechCacheTests {
    static func key(_ text: String, variant: String = "v") -> SpeechCache.Key {
        SpeechCache.Key(text: text, voice: nil, model: nil, language: nil, variant: variant)
    }

    static func chunks(_ bytes: Int) -> [SpeechChunk] {
        [SpeechChunk(turnID: "t", audio: [UInt8](repeating: 0x7F, count: bytes))]
    }

    @Test func theLeastRecentlyUsedGoesFirst() {
        let cache = SpeechCache(maxBytes: 3_000)
        for text in ["a", "b", "c"] { cache.insert(Self.key(text), chunks: Self.chunks(1_000)) }
        #expect(cache.lookup(Self.key("a")) != nil)  // a is now newer than b
        cache.insert(Self.key("d"), chunks: Self.chunks(1_000))
        #expect(cache.lookup(Self.key("b")) == nil)
        #expect(cache.lookup(Self.key("a")) != nil && cache.lookup(Self.key("c")) != nil && cache.lookup(Self.key("d")) != nil)
        #expect(cache.statistics == .init(hits: 4, misses: 1, evictions: 1, bytes: 3_000, entries: 3))
    }

    @Test func tenThousandDistinctTextsKeepTheByteBound() {
        let cache = SpeechCache(maxBytes: 1 << 20)
        var worst = 0
        for i in 0..<10_000 {
            // Sizes vary, so evictions free more or less than an insert needs.
            cache.insert(Self.key("prompt \(i)"), chunks: Self.chunks(800 + (i * 37) % 1_600))
            worst = max(worst, cache.statistics.bytes)
        }
        let statistics = cache.statistics
        #expect(worst <= 1 << 20)
        #expect(statistics.entries + statistics.evictions == 10_000)
        #expect(statistics.entries > 500)
        // The newest are held, the oldest gone.
        #expect(cache.lookup(Self.key("prompt 9999")) != nil)
        #expect(cache.lookup(Self.key("prompt 0")) == nil)
    }

    @Test func anUtteranceLargerThanTheBoundOrEmptyIsNotKeptAndAReinsertReplaces() {
        let cache = SpeechCache(maxBytes: 1_000)
        cache.insert(Self.key("huge"), chunks: Self.chunks(1_001))
        cache.insert(Self.key("empty"), chunks: [])
        #expect(cache.statistics.entries == 0)
        cache.insert(Self.key("x"), chunks: Self.chunks(400))
        cache.insert(Self.key("x"), chunks: Self.chunks(600))
        #expect(cache.statistics.bytes == 600 && cache.statistics.entries == 1)
        #expect(SpeechCache(maxBytes: 0).lookup(Self.key("x")) == nil)
    }

    @Test func memosWithTheSameVariantShareEntriesAndOthersDoNot() async throws {
        let cache = SpeechCache()
        let first = SpeechMemo(OfflineVoice(), cache: cache, variant: "elevenlabs|voice|model|ulaw_8000")
        let second = SpeechMemo(OfflineVoice(), cache: cache, variant: "elevenlabs|voice|model|ulaw_8000")
        let other = SpeechMemo(OfflineVoice(), cache: cache, variant: "elevenlabs|voice|model|pcm_16000")
        for try await _ in first.speak("Shared by variant.", options: TurnOptions(id: "a")).chunks {}
        for try await _ in second.speak("Shared by variant.", options: TurnOptions(id: "b")).chunks {}
        #expect(cache.statistics.hits == 1)
        for try await _ in other.speak("Shared by variant.", options: TurnOptions(id: "c")).chunks {}
        #expect(cache.statistics.hits == 1 && cache.statistics.entries == 2)
    }

    @Test func streamedTurnsAreNeverKept() async throws {
        let cache = SpeechCache()
        let memo = SpeechMemo(OfflineVoice(), cache: cache, variant: "v")
        let turn = memo.startTurn(TurnOptions(id: "relay"))
        turn.send(text: "Streamed words from an app.")
        turn.finish()
        for try await _ in turn.chunks {}
        #expect(cache.statistics == .init())
    }
}
