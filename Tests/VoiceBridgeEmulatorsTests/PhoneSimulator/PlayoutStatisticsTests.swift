import Histogram
import Testing
@testable import VoiceBridgeEmulators
import VoiceBridgeCarriers

@Suite struct PlayoutStatisticsTests {
    @Test func gapsBetweenFramesWhilePlaybackIsContinuous() {
        var playout = CarrierPlayout(recordHeard: false)
        // Arrivals exactly as the previous frame ends: continuous, no underrun.
        for t in [0.0, 20, 40, 60] { playout.receive(0x10, atMs: t) }
        // With a lead, jittery arrivals still count.
        playout.receive(0x10, atMs: 65)
        playout.receive(0x10, atMs: 66)
        let s = playout.statistics
        #expect(s.mediaCount == 6)
        #expect(s.gaps.totalCount == 5)
        #expect(s.gaps.max >= 19_700 && s.gaps.max <= 20_300)
        #expect(s.gaps.min >= 980 && s.gaps.min <= 1020)
        #expect(s.underrunCount == 0)
        #expect(s.firstMediaNanos == 0)
    }

    @Test func dryPlaybackBreaksTheGapRunAndCountsAnUnderrun() {
        var playout = CarrierPlayout(recordHeard: false)
        playout.receive(0x10, atMs: 0)
        playout.receive(0x10, atMs: 30)  // ran dry at 20 ms: 10 ms underrun, no gap
        playout.receive(0x10, atMs: 45)  // continuous again: gap 15 ms
        playout.receive(0x10, atMs: 100)  // dry at 70 ms: 30 ms underrun
        let s = playout.statistics
        #expect(s.underrunCount == 2)
        #expect(s.underrunSamples == 80 + 240)
        #expect(s.underruns == [.init(startSample: 160, endSample: 240), .init(startSample: 560, endSample: 800)])
        #expect(s.gaps.totalCount == 1)
        #expect(s.gaps.max >= 14_700 && s.gaps.max <= 15_300)
    }

    @Test func aMarkClosesTheSegmentSoTheNextPauseIsNotAnUnderrun() {
        var playout = CarrierPlayout(recordHeard: false)
        playout.receive(0x10, atMs: 0)
        playout.receiveMark(name: "utterance-1", at: ms(1))
        playout.receive(0x10, atMs: 500)
        // A mark that arrives during the dry spell also closes the segment.
        playout.receiveMark(name: "utterance-2", at: ms(530))
        playout.receive(0x10, atMs: 900)
        // A clear does too.
        playout.receiveClear(at: ms(905))
        playout.receive(0x10, atMs: 950)
        #expect(playout.statistics.underrunCount == 0)
        #expect(playout.statistics.gaps.totalCount == 0)
    }

    @Test func leadIsTheQueuedAudioAfterEachArrival() {
        var playout = CarrierPlayout(recordHeard: false)
        for _ in 0..<5 { playout.receive(0x10, atMs: 0) }
        playout.receive(0x10, atMs: 50)  // 100 ms queued, 50 ms played → 50 + 20
        let s = playout.statistics
        #expect(s.maxLeadSamples == 800)
        #expect(s.lead.totalCount == 6)
        #expect(s.lead.min >= 19_700 && s.lead.min <= 20_300)
        let p50 = s.lead.valueAtPercentile(50)
        #expect(p50 >= 58_500 && p50 <= 61_500)
    }

    @Test func heardSegmentsFollowPlaybackAndClears() {
        var playout = CarrierPlayout(recordHeard: false)
        playout.receive(0x10, count: 800, atMs: 0)  // plays 0–100 ms
        playout.receive(0x10, atMs: 100)  // arrives the sample it ran dry: same segment, to 120 ms
        playout.receive(0x10, count: 1600, atMs: 200)
        playout.receiveClear(at: ms(250))
        playout.receive(0x10, atMs: 300)
        playout.finish(at: ms(310))
        #expect(
            playout.statistics.heardSegments == [
                .init(startSample: 0, endSample: 960),
                .init(startSample: 1600, endSample: 2000),
                .init(startSample: 2400, endSample: 2480),
            ])
    }

    @Test func codedSilenceInsidePlaybackIsNotHeard() {
        var playout = CarrierPlayout(recordHeard: false)
        playout.receive(0x10, atMs: 0)
        playout.receive(0xFF, atMs: 0)  // μ-law zero
        playout.receive(0x7E, atMs: 0)  // ±8: still below the threshold
        playout.receive(0x10, atMs: 0)
        playout.receive(0xFF, atMs: 0)
        playout.finish(at: ms(200))
        #expect(
            playout.statistics.heardSegments == [
                .init(startSample: 0, endSample: 160), .init(startSample: 480, endSample: 640),
            ])
        #expect(playout.statistics.underrunCount == 0)
    }

    @Test func loudnessThresholdSplitsTheMuLawCodes() {
        #expect(!CarrierPlayout.loudBytes[0xFF] && !CarrierPlayout.loudBytes[0x7F])
        #expect(CarrierPlayout.loudBytes[0x00] && CarrierPlayout.loudBytes[0x80])
        #expect(CarrierPlayout.loudBytes.filter { $0 }.count == 256 - 2 * 4)
    }
}
