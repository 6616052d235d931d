import NIOCore
import NIOEmbedded
import Testing
import VoiceBridgeCallTesting
import VoiceBridgeCarriers
import VoiceBridgeSpeech
@testable import VoiceBridgeCalls

/// Calls on one loop share the loop's playout timers: one per grid deadline, not one per call.
@Suite struct PlayoutWheelTests {
    @Test func callsOnOnePhaseShareOneTimerAndEachKeepsItsGrid() {
        let a = CallHarness()
        let b = Call(
            eventLoop: a.loop, sink: RecordingSink(loop: a.loop), speech: ManualSpeechSource(), flow: ScriptedFlow())
        let bSink = try! #require(b.sinkForTests as? RecordingSink)
        a.start()
        b.receive(.connected(protocolName: "Call", version: "1.0.0"))
        b.receive(.start(StreamStart(
            sequenceNumber: 1, streamID: "MZ00000000000000000000000000000002", accountID: "AC00000000000000000000000000000001",
            callID: "CA00000000000000000000000000000002", tracks: ["inbound"], customParameters: [:],
            mediaFormat: .mulaw8kMono)))
        a.call.play(.audio([UInt8](repeating: 0x55, count: 8000), text: "one second"), id: "a", interruptible: .any)
        b.play(.audio([UInt8](repeating: 0x66, count: 8000), text: "one second"), id: "b", interruptible: .any)
        let wheel = PlayoutWheel.shared(on: a.loop)
        #expect(wheel.armedDeadlines == 1, "both calls started on the same millisecond: one timer")
        a.advance(ms: 1100)
        #expect(a.sink.mediaFrames.count == 50)
        #expect(bSink.mediaFrames.count == 50)
        // Each frame after the opening lead goes out on its call's 20 ms grid.
        let origin = a.call.playout.origin
        for t in a.sink.mediaTimes.dropFirst(3) { #expect((t - origin) % 20_000_000 == 0) }
        #expect(wheel.armedDeadlines == 0, "idle calls leave no timer behind")
    }

    @Test func aStoppedCallIsNotTickedAgain() {
        let h = CallHarness()
        h.start()
        h.call.play(.audio([UInt8](repeating: 0x55, count: 8000), text: "one second"), id: "a", interruptible: .any)
        h.advance(ms: 200)
        let sent = h.sink.mediaFrames.count
        h.call.stopSpeaking()
        h.advance(ms: 500)
        #expect(h.sink.mediaFrames.count == sent)
        #expect(h.sink.clears.count == 1)
    }

    @Test func eachLoopHasItsOwnWheel() {
        let one = EmbeddedEventLoop()
        let two = EmbeddedEventLoop()
        let wheel = PlayoutWheel.shared(on: one)
        #expect(PlayoutWheel.shared(on: one) === wheel)
        #expect(PlayoutWheel.shared(on: two) !== wheel)
    }

    @Test func aWheelGoesWithItsLastCall() {
        weak var gone: PlayoutWheel?
        do {
            let h = CallHarness()
            gone = PlayoutWheel.shared(on: h.loop)
            h.start()
            h.call.play(.audio([UInt8](repeating: 0x55, count: 800), text: "short"), id: "a", interruptible: .any)
            h.advance(ms: 300)
            h.call.end(.hangUp)
        }
        #expect(gone == nil, "nobody holds an idle loop's wheel")
    }
}
