import Testing
@testable import VoiceBridgeSpeech

@Suite struct WordAlignerTests {
    /// "Hi there, you." with words at 0, 300 and 700 ms; audio ends at 1200 ms.
    private func aligner() -> WordAligner {
        var aligner = WordAligner(text: "Hi there, you.", estimatedMsPerCharacter: 50)
        aligner.word(textPosition: 1, length: 2, audioMs: 0)
        aligner.word(textPosition: 4, length: 5, audioMs: 300)
        aligner.word(textPosition: 11, length: 3, audioMs: 700)
        aligner.end(audioMs: 1200)
        return aligner
    }

    @Test func spreadsEachWordOverItsCharacters() {
        var aligner = aligner()
        let all = aligner.alignment(chunkStartMs: 0, chunkEndMs: 1200, isLast: true)
        #expect(all.chars.joined() == "Hi there, you.")
        // "Hi " shares 0..<300: 100 ms each.
        #expect(Array(all.charStartTimesMs.prefix(3)) == [0, 100, 200])
        #expect(Array(all.charDurationsMs.prefix(3)) == [100, 100, 100])
        // "there, " starts at 300.
        #expect(all.charStartTimesMs[3] == 300)
        // The last word is stretched to at most twice the estimate per character.
        #expect(all.charStartTimesMs[10] == 700)
        #expect(all.charDurationsMs[10] == 100)
    }

    @Test func handsOutEachCharacterOnceAcrossChunksWithChunkRelativeTimes() {
        var aligner = aligner()
        let first = aligner.alignment(chunkStartMs: 0, chunkEndMs: 400, isLast: false)
        let second = aligner.alignment(chunkStartMs: 400, chunkEndMs: 800, isLast: false)
        let third = aligner.alignment(chunkStartMs: 800, chunkEndMs: 1200, isLast: true)
        #expect(first.chars.joined() == "Hi th")
        #expect(second.chars.joined() == "ere, y")
        #expect(third.chars.joined() == "ou.")
        #expect(second.charStartTimesMs.first == 414 - 400)  // "there, " shares 300..<700.
        #expect(third.charStartTimesMs == [0, 100, 200])  // "o" at 800, "u" at 900, "." at 1000.
        #expect(first.text(heardBefore: 150) == "Hi")
    }

    @Test func waitsForTheNextWordBeforeTimingWhatFollowsTheCurrentOne() {
        var aligner = WordAligner(text: "Hello world.", estimatedMsPerCharacter: 50)
        aligner.word(textPosition: 1, length: 5, audioMs: 0)
        let early = aligner.alignment(chunkStartMs: 0, chunkEndMs: 1000, isLast: false)
        #expect(early.chars.joined() == "Hello")  // " world." waits for its word event.
        #expect(early.charStartTimesMs == [0, 50, 100, 150, 200])
        aligner.word(textPosition: 7, length: 5, audioMs: 400)
        aligner.end(audioMs: 900)
        let late = aligner.alignment(chunkStartMs: 1000, chunkEndMs: 1100, isLast: true)
        #expect(late.chars.joined() == " world.")
        #expect(late.charStartTimesMs.allSatisfy { $0 == 0 })  // Late characters never go back in time.
    }

    @Test func ignoresEventsThatDoNotMoveForwardAndCountsScalars() {
        var aligner = WordAligner(text: "Café olé", estimatedMsPerCharacter: 50)
        aligner.word(textPosition: 1, length: 4, audioMs: 0)
        aligner.word(textPosition: 0, length: 0, audioMs: 200)  // espeak's stray event.
        aligner.word(textPosition: 6, length: 3, audioMs: 300)
        aligner.end(audioMs: 600)
        let all = aligner.alignment(chunkStartMs: 0, chunkEndMs: 600, isLast: true)
        #expect(all.chars == ["C", "a", "f", "é", " ", "o", "l", "é"])
        #expect(all.charStartTimesMs[5] == 300)
    }

    @Test func leadingCharactersBelongToTheFirstWord() {
        var aligner = WordAligner(text: "  \"Yes\"", estimatedMsPerCharacter: 50)
        aligner.word(textPosition: 4, length: 3, audioMs: 100)
        aligner.end(audioMs: 500)
        let all = aligner.alignment(chunkStartMs: 0, chunkEndMs: 500, isLast: true)
        #expect(all.chars.joined() == "  \"Yes\"")
        #expect(all.charStartTimesMs.first == 100)
    }
}
