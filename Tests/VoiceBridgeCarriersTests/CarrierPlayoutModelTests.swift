import Testing
@testable import VoiceBridgeCarriers

/// The shared playout model's carrier rules and its ring buffer (the phone simulator's tests
/// cover its timing).
@Suite struct CarrierPlayoutModelTests {
    static func frame(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 160) }

    /// Plivo: a clear drops the pending checkpoints without acknowledging them; Twilio echoes them.
    @Test(arguments: [true, false])
    func aClearSettlesPendingMarksAsTheCarrierDoes(_ echoes: Bool) {
        var playout = CarrierPlayoutModel(recordHeard: false, echoesMarksOnClear: echoes, observer: UnobservedPlayout())
        // 100 ms queued at once, marked, and cleared half-way through.
        for _ in 0..<5 { Self.frame(0x42).withUnsafeBytes { playout.receiveMedia($0, at: 0) } }
        playout.receiveMark(name: "a", at: 0)
        #expect(playout.echoes.isEmpty)
        playout.receiveClear(at: 50_000_000)
        #expect(playout.echoes.map(\.name) == ["a"])
        #expect(playout.echoes.map(\.played) == [false])
        #expect(playout.echoes.map(\.acknowledged) == [echoes])
        #expect(playout.nextMarkDueNanos == nil)
    }

    @Test func ringBufferKeepsOrderAcrossGrowthAndWrap() {
        var ring = ByteRing(storesBytes: true)
        var expected: [UInt8] = []
        var out: [UInt8] = []
        var next: UInt8 = 0
        for round in 0..<50 {
            let chunk = (0..<(round * 37 % 700 + 1)).map { _ in
                next &+= 1
                return next
            }
            chunk.withUnsafeBytes { ring.push($0) }
            expected += chunk
            ring.pop(ring.count / 2, appendingTo: &out)
        }
        ring.pop(ring.count, appendingTo: &out)
        #expect(out == expected)
    }
}
