import Testing
import VoiceBridgeSpeech
@testable import VoiceBridgeCalls

@Suite struct MarkLedgerTests {
    let ms: Int64 = 1_000_000

    @Test func echoesArePlayedUnlessAClearWasSentWhilePending() {
        var ledger = MarkLedger()
        ledger.beginSegment(name: "1.1", turnID: "1", text: "Hello there.", at: 0)
        ledger.addAudio(nanos: 1_000 * ms, alignment: nil)
        ledger.endSegment(at: 1_000 * ms)
        ledger.beginSegment(name: "2.1", turnID: "2", text: "Second part.", at: 1_000 * ms)
        ledger.addAudio(nanos: 1_000 * ms, alignment: nil)
        ledger.endSegment(at: 2_000 * ms)
        #expect(ledger.awaitingEchoCount == 2)
        guard case .played(let first) = ledger.echo(name: "1.1") else { Issue.record("expected played"); return }
        #expect(first.text == "Hello there.")
        _ = ledger.recordClear(playedPosition: 1_500 * ms, turnID: "2")
        guard case .cleared = ledger.echo(name: "2.1") else { Issue.record("expected cleared"); return }
        #expect(ledger.awaitingEchoCount == 0)
        #expect(ledger.echo(name: "nope") == .unknown("nope"))
    }

    @Test func heardTextComesFromAlignmentNotBytesSent() {
        var ledger = MarkLedger()
        ledger.beginSegment(name: "1.1", turnID: "1", text: "one two three", at: 0)
        let words = Array("one two three").map(String.init)
        // 100 ms per character.
        let a = Alignment(chars: words, charStartTimesMs: words.indices.map { $0 * 100 }, charDurationsMs: words.map { _ in 100 })
        ledger.addAudio(nanos: 1_300 * ms, alignment: a)
        ledger.endSegment(at: 1_300 * ms)
        // All 1.3 s were sent, but only 450 ms had played when the caller cut in.
        let heard = ledger.recordClear(playedPosition: 450 * ms, turnID: "1")
        #expect(heard.interruptedText == "one t")
        #expect(heard.interruptedMs == 450)
        #expect(heard.completeSegments.isEmpty)
        #expect(heard.text == "one t")
    }

    @Test func alignmentOffsetsAccumulateAcrossChunks() {
        var ledger = MarkLedger()
        ledger.beginSegment(name: "1.1", turnID: "1", text: "ab cd", at: 1_000 * ms)
        ledger.addAudio(nanos: 200 * ms, alignment: Alignment(chars: ["a", "b"], charStartTimesMs: [0, 100], charDurationsMs: [100, 100]))
        ledger.addAudio(nanos: 300 * ms, alignment: Alignment(chars: [" ", "c", "d"], charStartTimesMs: [0, 100, 200], charDurationsMs: [100, 100, 100]))
        let heard = ledger.recordClear(playedPosition: 1_350 * ms, turnID: "1")
        #expect(heard.interruptedText == "ab c")
    }

    @Test func withoutAlignmentHeardTextStopsAtAWordBoundary() {
        var ledger = MarkLedger()
        ledger.beginSegment(name: "1.1", turnID: "1", text: "alpha beta gamma delta", at: 0)
        ledger.addAudio(nanos: 2_200 * ms, alignment: nil)
        ledger.endSegment(at: 2_200 * ms)
        let heard = ledger.recordClear(playedPosition: 1_300 * ms, turnID: "1")
        #expect(heard.interruptedText == "alpha beta")
    }

    @Test func fullyPlayedSegmentsOfTheTurnCountAsHeard() {
        var ledger = MarkLedger()
        ledger.beginSegment(name: "1.1", turnID: "1", text: "First.", at: 0)
        ledger.addAudio(nanos: 500 * ms, alignment: nil)
        ledger.endSegment(at: 500 * ms)
        ledger.beginSegment(name: "1.2", turnID: "1", text: "Second sentence here.", at: 500 * ms)
        ledger.addAudio(nanos: 1_000 * ms, alignment: nil)
        let heard = ledger.recordClear(playedPosition: 1_000 * ms, turnID: "1")
        #expect(heard.completeSegments == ["First."])
        #expect(heard.interruptedSegment == "1.2")
        // The never-marked segment leaves the ledger; the marked one waits for its echo.
        #expect(ledger.segments.map(\.name) == ["1.1"])
    }
}
