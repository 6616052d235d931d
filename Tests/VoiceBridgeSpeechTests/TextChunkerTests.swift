import NIOCore
import Testing
import VoiceBridgeSpeech

/// The chunker on a manual clock: time is whatever the test says it is.
@Suite struct TextChunkerTests {
    static func at(_ ms: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(1_000_000_000 + ms * 1_000_000)) }

    @Test func cutsAtClausesOnceTheirWhitespaceArrives() {
        var chunker = TextChunker(maxWait: .milliseconds(250))
        var out: [String] = []
        for token in ["Hel", "lo", ",", " wor", "ld", ".", " How", " are", " you", "?"] {
            out += chunker.append(token, at: Self.at(0))
        }
        #expect(out == ["Hello, ", "world. "])
        #expect(chunker.finish() == "How are you? ")
        #expect(chunker.finish() == nil)
    }

    @Test func aKnownTextIsSentInSentencesAndOneWithNothingToSayJoinsItsNeighbour() {
        #expect(TextChunker.sentencePieces("Welcome. Press 1 for sales.\nPress 2 for help.") == ["Welcome. ", "Press 1 for sales. ", "Press 2 for help. "])
        #expect(TextChunker.sentencePieces("Hold on! ... Thanks.") == ["Hold on! ", "... Thanks. "])
        #expect(TextChunker.sentencePieces("... Hello.") == ["... Hello. "])
        #expect(TextChunker.sentencePieces("Fine. !!") == ["Fine. !! "])
        #expect(TextChunker.sentencePieces("   ") == [])
    }

    @Test func aDotInsideANumberIsNoBoundary() {
        var chunker = TextChunker()
        #expect(chunker.append("Pi is 3.", at: Self.at(0)) == [])
        #expect(chunker.append("14 or so; roughly", at: Self.at(1)) == ["Pi is 3.14 or so; "])
        #expect(chunker.append(" three!\n", at: Self.at(2)) == ["roughly three! "])
        #expect(chunker.pending == "")
        #expect(chunker.deadline == nil)
    }

    @Test func longClausesGoAfterTheMaxWaitWithoutCuttingAWord() {
        var chunker = TextChunker(maxWait: .milliseconds(250))
        #expect(chunker.append("This clause has no", at: Self.at(0)) == [])
        #expect(chunker.deadline == Self.at(250))
        #expect(chunker.due(at: Self.at(249)) == [])
        #expect(chunker.append(" end in sig", at: Self.at(100)) == [])
        // Due: everything up to the last whitespace; the half word waits.
        #expect(chunker.due(at: Self.at(250)) == ["This clause has no end in "])
        #expect(chunker.pending == " sig")
        #expect(chunker.deadline == Self.at(500))
        // A single unfinished word never goes on a timeout.
        var word = TextChunker(maxWait: .milliseconds(10))
        #expect(word.append("Supercalifragilistic", at: Self.at(0)) == [])
        #expect(word.due(at: Self.at(1000)) == [])
        #expect(word.finish() == "Supercalifragilistic ")
    }

    @Test func appendingPastTheDeadlineHandsOutTheDueText() {
        var chunker = TextChunker(maxWait: .milliseconds(100))
        #expect(chunker.append("one two", at: Self.at(0)) == [])
        #expect(chunker.append(" three", at: Self.at(150)) == ["one two "])
        #expect(chunker.finish() == "three ")
    }

    @Test func blankTextIsNeverSent() {
        var chunker = TextChunker()
        #expect(chunker.append("   ", at: Self.at(0)) == [])
        #expect(chunker.deadline == nil)
        #expect(chunker.append(", ", at: Self.at(0)) == [","  + " "])
        #expect(chunker.finish() == nil)
    }
}

@Suite struct SpokenTextTrackerTests {
    @Test func theUnspokenRestFollowsTheAlignmentIgnoringSpaces() {
        var tracker = SpokenTextTracker()
        tracker.sent("Hello there, ")
        tracker.sent("general Kenobi. ")
        #expect(tracker.unspoken == "Hello there, general Kenobi. ")
        // ElevenLabs' alignment starts with a space and splits where it likes.
        tracker.delivered(SpeechChunk(turnID: "1", audio: [1], alignment: Alignment(chars: [" ", "H", "e", "l", "l", "o", " ", "t"], charStartTimesMs: Array(repeating: 0, count: 8), charDurationsMs: Array(repeating: 0, count: 8))))
        #expect(tracker.unspoken == "here, general Kenobi. ")
        tracker.dropUnspoken()
        #expect(tracker.text == "Hello t ")
        tracker.sent("here, general Kenobi. ")
        #expect(tracker.unspoken == "here, general Kenobi. ")
        tracker.delivered(SpeechChunk(turnID: "1", audio: [1], alignment: Alignment(chars: Array("here, general Kenobi.").map(String.init), charStartTimesMs: Array(repeating: 0, count: 21), charDurationsMs: Array(repeating: 0, count: 21))))
        #expect(tracker.unspoken == "")
        #expect(!tracker.sawUnalignedAudio)
    }
}
