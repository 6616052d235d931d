import Testing
@testable import VoiceBridgeCalls

@Suite struct PlayoutClockTests {
    let ms: Int64 = 1_000_000

    @Test func gridIsAbsoluteAndDoesNotDriftOverTenMinutes() {
        let origin: Int64 = 123_456_789
        let clock = PlayoutClock(origin: origin)
        // 10 minutes of 20 ms ticks, reached by integer tick index, not by accumulation.
        let ticks = Int64(10 * 60 * 50)
        let last = clock.deadline(ofTick: ticks)
        #expect(last - origin == 600_000 * ms)
        // Walking the grid tick by tick, as the call does, lands on the same instant.
        var k: Int64 = 0
        var t = origin
        while k < ticks {
            // The timer fires late by a varying amount; the next deadline must not inherit it.
            let lateness = Int64((k * 7919) % 3) * ms / 2
            k = clock.tick(after: t + lateness)
            t = clock.deadline(ofTick: k)
        }
        #expect(abs(t - last) < ms)
        #expect(t == last)
    }

    @Test func tickAfterIsStrictlyInTheFuture() {
        let clock = PlayoutClock(origin: 1_000 * ms)
        #expect(clock.tick(after: 999 * ms) == 0)
        #expect(clock.tick(after: 1_000 * ms) == 1)
        #expect(clock.tick(after: 1_019 * ms) == 1)
        #expect(clock.tick(after: 1_020 * ms) == 2)
    }

    @Test func leadIsFilledThenTopsUpOneFramePerTick() {
        var clock = PlayoutClock(origin: 0, frameMs: 20, leadMs: 60)
        #expect(clock.framesWanted(at: 0) == 3)
        for _ in 0..<3 { clock.recordFrameSent(at: 0) }
        #expect(clock.depth(at: 0) == 60 * ms)
        #expect(clock.framesWanted(at: 0) == 0)
        #expect(clock.framesWanted(at: 20 * ms) == 1)
        clock.recordFrameSent(at: 20 * ms)
        #expect(clock.depth(at: 20 * ms) == 60 * ms)
        // The depth never exceeds the lead plus one frame, whatever the timing.
        var t: Int64 = 20 * ms
        for i in 0..<1000 {
            t += 20 * ms + Int64(i % 5) * ms / 3
            for _ in 0..<clock.framesWanted(at: t) { clock.recordFrameSent(at: t) }
            #expect(clock.depth(at: t) <= 80 * ms)
            #expect(clock.depth(at: t) >= 60 * ms)
        }
    }

    @Test func depthDrainsAtRealTimeAndClearEmptiesIt() {
        var clock = PlayoutClock(origin: 0)
        for _ in 0..<5 { clock.recordFrameSent(at: 0) }
        #expect(clock.depth(at: 30 * ms) == 70 * ms)
        #expect(clock.played(at: 30 * ms) == 30 * ms)
        #expect(clock.depth(at: 500 * ms) == 0)
        clock.recordClear(at: 40 * ms)
        #expect(clock.depth(at: 40 * ms) == 0)
        // What was cleared never plays: the timeline ends where playback stopped.
        #expect(clock.sentNanos == 40 * ms)
        #expect(clock.played(at: 100 * ms) == 40 * ms)
    }

    @Test func playedMarkCorrectsTheEstimate() {
        var clock = PlayoutClock(origin: 0)
        for _ in 0..<10 { clock.recordFrameSent(at: 0) }
        // The carrier started late: at 150 ms it reports the mark at 100 ms as played.
        clock.recordMarkPlayed(position: 100 * ms, at: 150 * ms)
        #expect(clock.depth(at: 150 * ms) == 100 * ms)
        #expect(clock.played(at: 150 * ms) == 100 * ms)
    }

    @Test func echoTransitJitterDoesNotMoveTheEstimate() {
        var clock = PlayoutClock(origin: 0)
        for _ in 0..<10 { clock.recordFrameSent(at: 0) }
        // The mark at 100 ms is echoed 1.5 ms after it played: the carrier looks 1.5 ms behind.
        clock.recordMarkPlayed(position: 100 * ms, at: 101 * ms + ms / 2)
        #expect(clock.depth(at: 101 * ms + ms / 2) == 98 * ms + ms / 2)
    }
}

