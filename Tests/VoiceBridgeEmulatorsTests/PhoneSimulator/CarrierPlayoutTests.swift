import Testing
@testable import VoiceBridgeEmulators
import VoiceBridgeCarriers

/// Manual time: milliseconds to the playout's nanoseconds.
func ms(_ value: Double) -> Int64 { Int64(value * 1_000_000) }

extension CarrierPlayout {
    mutating func receive(_ byte: UInt8, count: Int = 160, atMs t: Double) {
        let bytes = [UInt8](repeating: byte, count: count)
        bytes.withUnsafeBytes { receiveMedia($0, at: ms(t)) }
    }

    mutating func takeEchoes() -> [Echo] {
        defer { removeEchoes() }
        return echoes
    }
}

@Suite struct CarrierPlayoutTests {
    @Test func markIsEchoedWhenItsAudioHasPlayed() {
        var playout = CarrierPlayout(recordHeard: false)
        playout.receive(0x10, atMs: 0)
        playout.receive(0x11, atMs: 1)
        playout.receiveMark(name: "a", at: ms(2))
        #expect(playout.takeEchoes().isEmpty)
        #expect(playout.nextMarkDueNanos == ms(40))
        playout.advance(to: ms(39.9))
        #expect(playout.takeEchoes().isEmpty)
        playout.advance(to: ms(40))
        #expect(playout.takeEchoes() == [.init(name: "a", played: true, dueSample: 320)])
        #expect(playout.nextMarkDueNanos == nil)
    }

    @Test func markIsEchoedAtOnceWhenNothingIsQueued() {
        var playout = CarrierPlayout(recordHeard: false)
        playout.receiveMark(name: "first", at: ms(5))
        #expect(playout.takeEchoes() == [.init(name: "first", played: true, dueSample: 40)])
        // Also after the queue drained.
        playout.receive(0x10, atMs: 10)
        playout.receiveMark(name: "late", at: ms(100))
        #expect(playout.takeEchoes() == [.init(name: "late", played: true, dueSample: 800)])
    }

    @Test func marksEchoInOrderAndLateTimerCatchesUp() {
        var playout = CarrierPlayout(recordHeard: false)
        playout.receive(0x10, atMs: 0)
        playout.receiveMark(name: "1", at: ms(0))
        playout.receive(0x10, atMs: 0)
        playout.receiveMark(name: "2", at: ms(0))
        playout.receiveMark(name: "3", at: ms(0))
        playout.advance(to: ms(100))
        #expect(
            playout.takeEchoes() == [
                .init(name: "1", played: true, dueSample: 160), .init(name: "2", played: true, dueSample: 320),
                .init(name: "3", played: true, dueSample: 320),
            ])
    }

    @Test func clearEchoesEveryPendingMarkAndDropsTheQueue() {
        var playout = CarrierPlayout(recordHeard: true)
        playout.receive(0x10, atMs: 0)
        playout.receiveMark(name: "a", at: ms(0))
        playout.receive(0x20, count: 320, atMs: 0)
        playout.receiveMark(name: "b", at: ms(0))
        let dropped = playout.receiveClear(at: ms(10))
        #expect(dropped == 50)
        #expect(
            playout.takeEchoes() == [
                .init(name: "a", played: false, dueSample: 80), .init(name: "b", played: false, dueSample: 80),
            ])
        #expect(playout.queuedBytes == 0)
        #expect(playout.nextMarkDueNanos == nil)
        // After a clear the buffer is empty, so a probe mark comes straight back.
        playout.receiveMark(name: "probe", at: ms(11))
        #expect(playout.takeEchoes() == [.init(name: "probe", played: true, dueSample: 88)])
        playout.advance(to: ms(30))
        #expect(playout.heard.count == 240)
        #expect(playout.heard[0..<80].allSatisfy { $0 == 0x10 })
        #expect(playout.heard[80...].allSatisfy { $0 == 0xFF })
    }

    @Test func playsInArrivalOrderAtRealTime() {
        var playout = CarrierPlayout(recordHeard: true)
        playout.receive(0x10, atMs: 0)
        playout.receive(0x20, count: 80, atMs: 3)
        playout.receive(0x30, atMs: 4)
        playout.advance(to: ms(60))
        #expect(playout.heard.count == 480)
        #expect(playout.heard[0..<160].allSatisfy { $0 == 0x10 })
        #expect(playout.heard[160..<240].allSatisfy { $0 == 0x20 })
        #expect(playout.heard[240..<400].allSatisfy { $0 == 0x30 })
        #expect(playout.heard[400..<480].allSatisfy { $0 == 0xFF })
    }

    @Test func heardOutputHasSilenceWhereNothingPlayed() {
        var playout = CarrierPlayout(recordHeard: true)
        playout.advance(to: ms(100))
        playout.receive(0x42, atMs: 100.06)  // lands on sample 800
        playout.advance(to: ms(150))
        #expect(playout.heard.count == 1200)
        #expect(playout.heard[0..<800].allSatisfy { $0 == 0xFF })
        #expect(playout.heard[800..<960].allSatisfy { $0 == 0x42 })
        #expect(playout.heard[960...].allSatisfy { $0 == 0xFF })
        #expect(playout.clockSample == 1200)
    }

    @Test func withoutRecordingOnlyCountsAreKept() {
        var playout = CarrierPlayout(recordHeard: false)
        playout.receive(0x10, count: 8000, atMs: 0)
        playout.advance(to: ms(500))
        #expect(playout.heard.isEmpty)
        #expect(playout.queuedBytes == 4000)
    }
}
