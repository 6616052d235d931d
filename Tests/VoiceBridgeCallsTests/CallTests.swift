import Dispatch
import NIOCore
import NIOEmbedded
import Testing
import VoiceBridgeAudio
import VoiceBridgeCallTesting
import VoiceBridgeCarriers
import VoiceBridgeSpeech
@testable import VoiceBridgeCalls

@Suite struct CallPlayoutTests {
    @Test func framesAreExact160BytesOnTheGridWithABoundedLead() {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.text("Hello."), id: "greeting", interruptible: .any) }
        h.start()
        h.advance(ms: 7)  // audio arrives off-grid
        h.speak(turn: "1", ms: 1_010)
        // The lead goes out at once, without waiting for a tick.
        #expect(h.sink.mediaFrames.count == 3)
        h.advance(ms: 2_000)
        let frames = h.sink.mediaFrames
        #expect(frames.count == 51)  // 1010 ms → 50.5 frames → 51, the last padded
        #expect(frames.allSatisfy { $0.count == 160 })
        #expect(frames.last!.suffix(80) == ArraySlice(repeating: 0xFF, count: 80))
        // After the initial lead, one frame per tick, exactly on the 20 ms grid from start.
        let times = h.sink.mediaTimes.dropFirst(3)
        for t in times { #expect((t - 0) % (20 * h.ms) == 0) }
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        #expect(gaps.allSatisfy { $0 == 20 * h.ms })
        // The mark follows the last frame of the segment.
        #expect(h.sink.sent.last == .mark("1.1", at: h.sink.mediaTimes.last!))
    }

    @Test func idleCallSendsNothingAndStopsTicking() {
        let h = CallHarness()
        h.start()
        h.advance(ms: 1_000)
        #expect(h.sink.sent.isEmpty)
    }

    @Test func unwritableSocketSkipsTicksInsteadOfQueueing() {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.text("x"), id: "p", interruptible: .any) }
        h.start()
        h.sink.isWritable = false
        h.speak(turn: "1", ms: 500)
        h.advance(ms: 200)
        #expect(h.sink.mediaFrames.isEmpty)
        h.sink.isWritable = true
        h.advance(ms: 20)
        #expect(h.sink.mediaFrames.count == 3)
    }

    @Test func promptFinishesWhenItsMarkComesBack() {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.text("Hi."), id: "greeting", interruptible: .any) }
        h.start()
        h.speak(turn: "1", ms: 100)
        h.advance(ms: 200)
        #expect(h.sink.marks == ["1.1"])
        #expect(!h.flow.events.contains(.promptFinished("greeting")))
        h.echo("1.1")
        #expect(h.flow.events.contains(.promptFinished("greeting")))
    }

    @Test func audioPromptsPlayWithoutASpeechSource() {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.audio([UInt8](repeating: 0x10, count: 400), text: "beep"), id: "tone", interruptible: .none) }
        h.start()
        h.advance(ms: 100)
        #expect(h.sink.mediaFrames.count == 3)
        #expect(h.sink.marks == ["1.1"])
    }
}

@Suite struct CallBargeInTests {
    @Test func dtmfClearsInTheSameTurnAndNothingOfThatTurnFollows() {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.text("A long greeting."), id: "greeting", interruptible: .any) }
        h.start()
        h.speak(turn: "1", ms: 3_000, last: false)
        h.advance(ms: 500)
        let before = h.sink.sent.count
        h.dtmf("1")
        // Synchronously, within this one call: clear and nothing else.
        #expect(Array(h.sink.sent[before...]) == [.clear(at: h.now)])
        #expect(h.speech.turn("1")!.cancelled)
        // Late chunks of the interrupted turn are dropped by id.
        h.speak(turn: "1", ms: 1_000)
        h.advance(ms: 1_000)
        #expect(h.sink.sent.count == before + 1)
        #expect(h.flow.events.contains(.digit("1", interrupted: true)))
        guard case let .promptInterrupted(id, heard)? = h.flow.events.first(where: { if case .promptInterrupted = $0 { true } else { false } }) else {
            Issue.record("no interruption reported"); return
        }
        #expect(id == "greeting")
        #expect(heard.interruptedMs == 500)
    }

    @Test func clearedMarksAreClassifiedAndHeardTextReported() {
        let h = CallHarness()
        let text = "one two three four"
        h.flow.onStart = { $0.play(.text(text), id: "p", interruptible: .any) }
        h.start()
        let chars = text.map(String.init)
        let alignment = Alignment(chars: chars, charStartTimesMs: chars.indices.map { $0 * 50 }, charDurationsMs: chars.map { _ in 50 })
        h.speak(turn: "1", ms: 900, alignment: alignment)
        h.advance(ms: 850)  // everything sent (the last frame at 840 ms), the mark is out
        #expect(h.sink.marks == ["1.1"])
        // The carrier has not played it all: 50 ms are still buffered.
        h.call.receive(.dtmf(DTMFPress(sequenceNumber: 9, track: "inbound_track", digit: "#")))
        #expect(h.sink.clears.count == 1)
        h.echo("1.1")  // Twilio echoes the pending mark on clear
        #expect(!h.flow.events.contains(.promptFinished("p")))
        guard case let .promptInterrupted(_, heard)? = h.flow.events.first(where: { if case .promptInterrupted = $0 { true } else { false } }) else {
            Issue.record("no interruption reported"); return
        }
        // 850 ms heard at 50 ms per character: the last character was sent but never played.
        #expect(heard.text == "one two three fou")
        #expect(heard.interruptedMs == 850)
    }

    @Test func speechOfMinimumLengthClearsWithinMinSpeechPlus40ms() {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.text("Greeting."), id: "g", interruptible: .any) }
        h.start()
        h.speak(turn: "1", ms: 10_000, last: false)
        h.silence(ms: 1_000)
        let onset = h.now
        h.caller(CallerSignal.speech(ms: 400))
        #expect(h.sink.clears.count == 1)
        let latency = h.sink.clears[0] - onset
        #expect(latency <= Int64(200 + 40) * h.ms)
        #expect(latency >= Int64(200) * h.ms - 20 * h.ms)
        #expect(h.flow.events.contains(.callerSpeechStarted(interrupted: true)))
    }

    @Test func aHundredMillisecondClickDoesNotClear() {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.text("Greeting."), id: "g", interruptible: .any) }
        h.start()
        h.speak(turn: "1", ms: 5_000, last: false)
        h.silence(ms: 500)
        h.caller(CallerSignal.speech(ms: 100))
        h.silence(ms: 600)
        #expect(h.sink.clears.isEmpty)
        #expect(h.sink.mediaFrames.count > 50)
    }

    @Test func nonInterruptiblePromptIgnoresKeysButTheFlowStillHearsThem() {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.text("Legal notice."), id: "n", interruptible: .none) }
        h.start()
        h.speak(turn: "1", ms: 2_000)
        h.advance(ms: 300)
        h.dtmf("5")
        #expect(h.sink.clears.isEmpty)
        #expect(h.flow.events.contains(.digit("5", interrupted: false)))
    }

    @Test func inBandAndCarrierDTMFCountOnce() {
        let h = CallHarness()
        h.start()
        h.caller(Signals.dtmf("7"))
        h.dtmf("7")
        h.silence(ms: 200)
        let digits = h.flow.events.filter { if case .digit = $0 { true } else { false } }
        #expect(digits == [.digit("7", interrupted: false)])
    }
}

@Suite struct CallLifecycleTests {
    @Test func hangUpWaitsForTheGoodbyeMark() {
        let h = CallHarness()
        h.flow.onStart = { call in
            call.play(.text("Goodbye."), id: "bye", interruptible: .none)
            call.hangUp()
        }
        h.start()
        h.speak(turn: "1", ms: 600)
        h.advance(ms: 700)
        #expect(h.sink.marks == ["1.1"])
        #expect(h.sink.closed.isEmpty)  // "generation done" is not "heard"
        h.echo("1.1")
        #expect(h.sink.closed == [.hangUp])
    }

    /// Plivo drops pending checkpoints on a clear without a word: the call settles them itself,
    /// so an end waiting for the last mark goes at once instead of waiting for the grace timeout.
    @Test(arguments: [true, false])
    func aClearSettlesMarksTheCarrierWillNotEcho(_ carrierEchoes: Bool) {
        let h = CallHarness()
        h.sink.echoesMarksOnClear = carrierEchoes
        h.flow.onStart = { call in
            call.play(.text("Goodbye and thank you for calling."), id: "bye", interruptible: .any)
            call.hangUp()
        }
        h.start()
        h.speak(turn: "1", ms: 900)
        h.advance(ms: 850)
        #expect(h.sink.marks == ["1.1"])
        h.dtmf("#")
        #expect(h.sink.clears.count == 1)
        if carrierEchoes {
            #expect(h.sink.closed.isEmpty)  // Twilio: the cleared mark's echo is still to come
            #expect(h.call.ledger.awaitingEchoCount == 0 && h.call.ledger.segments.count == 1)
            h.echo("1.1")
        } else {
            #expect(h.call.ledger.segments.isEmpty)
        }
        #expect(h.sink.closed == [.hangUp])
        #expect(!h.flow.events.contains(.promptFinished("bye")))
    }

    @Test func lostGoodbyeMarkTimesOut() {
        var config = CallConfiguration()
        config.hangUpGraceMs = 2_000
        let h = CallHarness(configuration: config)
        h.flow.onStart = { call in
            call.play(.text("Goodbye."), id: "bye", interruptible: .none)
            call.hangUp()
        }
        h.start()
        h.speak(turn: "1", ms: 600)
        h.advance(ms: 2_000)
        #expect(h.sink.closed.isEmpty)
        h.advance(ms: 1_000)
        #expect(h.sink.closed == [.hangUp])
    }

    @Test func aTransferTellsTheCarrierWhereToThenRedirectsOnceTheGoodbyeIsHeard() {
        var config = CallConfiguration()
        config.hangUpGraceMs = 2_000
        let h = CallHarness(configuration: config)
        h.flow.onStart = { call in
            call.play(.text("Transferring you."), id: "bye", interruptible: .none)
            call.transfer(to: .dial("+15550009999"))
        }
        h.start()
        #expect(h.sink.transfers == [.dial("+15550009999")])
        h.speak(turn: "1", ms: 600)
        h.advance(ms: 3_000)
        #expect(h.sink.closed == [.redirect])
        h.call.transfer(to: .dial("+15550001111"))
        #expect(h.sink.transfers == [.dial("+15550009999")], "an ended call transfers nowhere")
        #expect(h.sink.closed == [.redirect])
    }

    @Test func endSignalsAreIdempotent() {
        let h = CallHarness()
        h.start()
        h.call.receive(.stop(StreamStop(sequenceNumber: 5, accountID: "AC", callID: "CA")))
        h.call.socketClosed()
        h.call.statusCallback("completed")
        #expect(h.observer.ended == [.carrierStop])
        #expect(h.flow.events.filter { if case .ended = $0 { true } else { false } }.count == 1)
        #expect(h.sink.closed == [.carrierStop])
    }

    @Test func mediaBeforeStartIsAProtocolError() {
        let h = CallHarness()
        h.callerFrame([UInt8](repeating: 0xFF, count: 160))
        #expect(h.call.phase == .ended)
        #expect(h.sink.closed == [.protocolError("media before start")])
    }

    @Test func inputDuringSetupIsHeldNotLost() {
        let h = CallHarness()
        var control: (any CallControl)?
        h.flow.onStart = { call in
            control = call
            (call as! Call).deferInput()
        }
        h.start()
        h.caller(Signals.dtmf("3"))
        #expect(h.flow.events.isEmpty)
        (control as! Call).resumeInput()
        #expect(h.flow.events.contains(.digit("3", interrupted: false)))
    }

    @Test func flowTimersFireOnVirtualTime() {
        let h = CallHarness()
        h.flow.onStart = { $0.setTimer("noinput", afterMs: 5_000) }
        h.start()
        h.advance(ms: 4_999)
        #expect(!h.flow.events.contains(.timer("noinput")))
        h.advance(ms: 1)
        #expect(h.flow.events.contains(.timer("noinput")))
    }
}

@Suite struct CallMetricsTests {
    final class FirstAudio: CallObserver {
        var latencies: [Int64] = []
        func firstAudio(latencyNanos: Int64) { latencies.append(latencyNanos) }
    }

    @Test func firstAudioCountsFromWhenThePromptCouldPlayNotFromQueueing() {
        let h = CallHarness()
        let observer = FirstAudio()
        h.call = Call(eventLoop: h.loop, sink: h.sink, speech: h.speech, flow: h.flow, observer: observer)
        h.flow.onStart = { call in
            call.play(.text("First."), id: "a", interruptible: .any)
            call.play(.text("Second."), id: "b", interruptible: .any)
        }
        h.start()
        h.advance(ms: 30)
        h.speak(turn: "1", ms: 400)
        h.speak(turn: "2", ms: 400)
        h.advance(ms: 1_000)
        // The first waited 30 ms for its audio; the second had its audio long before it could play.
        #expect(observer.latencies == [30 * h.ms, 0])
    }
}

@Suite struct CallPacingUnderLatenessTests {
    /// A timer that fires late must not change what is sent: one frame per tick, no pairs and
    /// holes. (Evaluating the lead at "now" turned a slightly late tick into 2 frames, then none.)
    @Test func lateTicksStillSendOneFramePerTick() {
        let embedded = EmbeddedEventLoop()
        let loop = LateEventLoop(embedded)
        let sink = RecordingSink(loop: embedded)
        let flow = ScriptedFlow()
        let speech = ManualSpeechSource()
        let call = Call(eventLoop: loop, sink: sink, speech: speech, flow: flow)
        flow.onStart = { $0.play(.text("Long."), id: "p", interruptible: .any) }
        call.receive(.start(StreamStart(
            sequenceNumber: 1, streamID: "MZ1", accountID: "AC1", callID: "CA1", tracks: ["inbound"],
            customParameters: [:], mediaFormat: .mulaw8kMono)))
        embedded.advanceTime(by: .milliseconds(21))  // audio 1 ms after a grid point: the worst phase
        call.speechChunk(SpeechChunk(turnID: "1", audio: [UInt8](repeating: 0x55, count: 40_000)), turnID: "1")
        call.speechFinished(turnID: "1", error: nil)
        var counts: [Int] = []
        for i in 0..<100 {
            // Every tick runs 0.1–3 ms late, as on a loaded event loop.
            loop.lateness = Int64((i * 37) % 30 + 1) * 100_000
            let before = sink.mediaFrames.count
            embedded.advanceTime(by: .milliseconds(20))
            counts.append(sink.mediaFrames.count - before)
        }
        #expect(counts.allSatisfy { $0 == 1 }, "frames per tick: \(counts)")
    }
}

/// An event loop whose clock runs `lateness` ahead of when its timers fire: what a call sees on a
/// busy loop. Everything else is the embedded loop's.
final class LateEventLoop: ForwardingEventLoop, @unchecked Sendable {
    var lateness: Int64 = 0
    init(_ inner: EmbeddedEventLoop) { super.init(base: inner) }

    override var now: NIODeadline { base.now + .nanoseconds(lateness) }
}

@Suite struct CallPacingAcrossMarksTests {
    /// A mark echo that arrives a little after its audio played (network transit) must not
    /// cost the caller a frame: one frame per grid point straight through the next prompt.
    @Test func lateEchoesLeaveNoHole() {
        let h = CallHarness()
        h.flow.onStart = { call in
            call.play(.text("One."), id: "a", interruptible: .any)
            call.play(.text("Two."), id: "b", interruptible: .any)
        }
        h.start()
        // Audio 1 ms before a grid point: the depth then sits just under the lead at every tick,
        // the phase where a little echo jitter tips a tick into sending nothing.
        h.advance(ms: 19)
        h.speak(turn: "1", ms: 400)
        h.speak(turn: "2", ms: 2_000)
        var echoed = false
        for _ in 0..<1_200 {
            h.advance(ms: 1)
            // The first prompt's audio ends at 419 ms on the carrier; its echo comes 2 ms later.
            if !echoed && h.now >= 421 * h.ms {
                h.echo("1.1")
                echoed = true
            }
        }
        #expect(echoed)
        let onGrid = h.sink.mediaTimes.dropFirst(3)  // the opening lead went out at 19 ms
        let perTick = (1...59).map { k in onGrid.filter { $0 == Int64(k) * 20 * h.ms }.count }
        #expect(perTick.allSatisfy { $0 == 1 }, "frames per tick: \(perTick)")
    }
}

@Suite struct CallPacingAcrossChunksTests {
    /// Speech arrives in pieces: the first chunk holds 2 frames and a bit, the rest comes later,
    /// off the grid. The late piece must not be sent as a catch-up pair followed by a hole.
    @Test func audioArrivingOffGridWhilePlayingKeepsOneFramePerTick() {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.text("Hello there."), id: "p", interruptible: .any) }
        h.start()
        h.speak(turn: "1", ms: 49, last: false)  // 2 frames + 72 bytes
        h.advance(ms: 21)                        // the rest arrives just after a grid point
        h.speak(turn: "1", ms: 2_000)
        for _ in 0..<600 { h.advance(ms: 1) }
        let times = h.sink.mediaTimes
        // At 21 ms the carrier holds 19 ms: it gets what the missed tick at 20 ms would have sent.
        #expect(times.filter { $0 == 21 * h.ms }.count == 2)
        let perTick = (2...30).map { k in times.filter { $0 == Int64(k) * 20 * h.ms }.count }
        #expect(perTick.allSatisfy { $0 == 1 }, "frames per tick: \(perTick)")
    }
}
