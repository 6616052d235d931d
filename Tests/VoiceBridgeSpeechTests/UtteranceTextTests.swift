import Testing
import VoiceBridgeSpeech

@Suite struct UtteranceTextTests {
    @Test func splitsAtSentenceEndsFollowedBySpace() {
        let pieces = UtteranceText.sentences(in: "Hello there. How are you? Fine! Bye")
        #expect(pieces == ["Hello there.", " How are you?", " Fine!", " Bye"])
    }

    @Test func piecesJoinBackToTheInput() {
        let text = "  First line\nSecond: 3.14 is pi... really?! \"Quoted.\" Dr. Smith, e.g. here.\n\nEnd"
        let pieces = UtteranceText.sentences(in: text)
        #expect(pieces.joined() == text)
        #expect(pieces.count > 3)
    }

    @Test func newlineIsABoundary() {
        #expect(UtteranceText.sentences(in: "one\ntwo") == ["one\n", "two"])
    }

    @Test func periodInsideANumberOrNameIsNotABoundary() {
        #expect(UtteranceText.sentences(in: "Pi is 3.14 and voicebridge.dev works.") == ["Pi is 3.14 and voicebridge.dev works."])
    }

    @Test func closingQuotesAndRunsStayWithTheirSentence() {
        #expect(UtteranceText.sentences(in: "He said \"stop.\" Then?! Fine...") == ["He said \"stop.\"", " Then?!", " Fine..."])
    }

    @Test func commonAbbreviationsDoNotEndASentence() {
        #expect(UtteranceText.sentences(in: "Dr. Smith and Mr. Jones, e.g. them. Next") == ["Dr. Smith and Mr. Jones, e.g. them.", " Next"])
    }

    @Test func waitsForTheSpaceAfterAPeriodWhenStreaming() {
        var text = UtteranceText()
        #expect(text.append("It costs 3.") == [])
        #expect(text.append("50 dollars.") == [])  // "3." was not an ending after all.
        #expect(text.append(" Thanks") == ["It costs 3.50 dollars."])
        #expect(text.finish() == " Thanks")
        #expect(text.finish() == nil)
    }

    @Test func tokensStreamedOneByOneGiveTheSameSentences() {
        let text = "Hello, this is VoiceBridge. How can I help you today? Say a number.\nOr hang up."
        var splitter = UtteranceText()
        var streamed: [String] = []
        // Cut into uneven tokens, as an LLM would send them.
        var rest = Substring(text)
        var size = 1
        while !rest.isEmpty {
            streamed += splitter.append(String(rest.prefix(size)))
            rest = rest.dropFirst(size)
            size = size % 5 + 1
        }
        if let tail = splitter.finish() { streamed.append(tail) }
        #expect(streamed == UtteranceText.sentences(in: text))
        #expect(streamed == ["Hello, this is VoiceBridge.", " How can I help you today?", " Say a number.", "\n", "Or hang up."])
    }

    @Test func runOnTextIsCutAtAClauseNearTheCap() {
        let clause = "and then it went on, "
        let text = String(repeating: clause, count: 20)
        let pieces = UtteranceText.sentences(in: text, maxSentenceLength: 100)
        #expect(pieces.joined() == text)
        #expect(pieces.count > 3)
        for piece in pieces.dropLast() {
            #expect(piece.count <= 100)
            #expect(piece.hasSuffix(","))
        }
    }

    @Test func oneGiantWordIsCutAtTheCap() {
        let text = String(repeating: "x", count: 250)
        let pieces = UtteranceText.sentences(in: text, maxSentenceLength: 100)
        #expect(pieces.map(\.count) == [100, 100, 50])
    }

    @Test func emptyAndUnspeakablePieces() {
        #expect(UtteranceText.sentences(in: "") == [])
        #expect(!UtteranceText.isSpeakable("  ...\n"))
        #expect(UtteranceText.isSpeakable(" 42."))
        #expect(UtteranceText.isSpeakable("Ça va"))
    }
}
