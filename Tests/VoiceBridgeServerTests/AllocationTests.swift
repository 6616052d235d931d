import CAllocationCounter
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOWebSocket
import Testing
import VoiceBridgeAudio
import VoiceBridgeCallTesting
import VoiceBridgeCalls
import VoiceBridgeCarriers
import VoiceBridgeSpeech
@testable import VoiceBridgeServer

/// The media path allocates nothing per frame (issue #11, "Capacity", item 4).
///
/// A live call runs through the server's own media pipeline — the upgrader's WebSocket codec,
/// the fragment aggregator and `MediaStreamHandler`, with the production `Call` made by
/// `DemoCalls.makeCall` — on an `EmbeddedChannel`, so time is virtual and every run is the same.
/// The call has started (`connected`, `start`), plays a long prompt (one outbound frame per
/// 20 ms tick) and hears a 160-byte μ-law `media` message every 20 ms, silence and speech-like
/// audio (`CallerSignal.speech`), so both detectors and the speech events run. After 2 s of
/// warm-up, 3 s are counted with the malloc interposer (`CAllocationCounter`), on this thread only:
///
/// - inbound, ours: `MediaStreamHandler.channelRead` → unmasking copy → `TwilioMediaStreamDecoder`
///   → `MediaStreamGate` → `Call.receive` → `CallListener` (G.711, SpanDSP DTMF, speech detector)
///   → speech events and barge-in verdicts. Counted by a probe just in front of the handler.
/// - inbound, NIO: the WebSocket frame decoder and aggregator ahead of the handler (a probe at the
///   pipeline's head counts both; NIO's share is the difference).
/// - outbound, ours: the call's tick → `Call.pump` → `CallMetricsObserver` → `sendMedia` →
///   `TwilioMediaStreamEncoder` → `TextFrameBatch` → `flush` → the pipeline write, down to the
///   channel. Counted around the tick callback; the channel core below the pipeline (here the
///   embedded channel's buffers) is counted apart and left out.
///
/// Measured in a debug build (`swift test`), 150 frames each way:
/// - NIO, inbound: 1 allocation per message (150), `WebSocketFrameDecoder` making each frame's
///   `WebSocketFrame._Storage`. The embedded channel core below the pipeline: 0. For the record,
///   a `SelectableEventLoop` timer wake-up costs 5 in a debug build (NIO's own unspecialised
///   generic code and debug-only invariant checks), shared by the calls of a `PlayoutWheel` slot.
/// - Ours: 0 per inbound frame and 0 per outbound frame once the hot path reads its arrays by
///   index. Before that (ecbdb48) a debug build allocated 1 per speech onset inbound
///   (`Call.audiblePrompt` → `first(where:)`) and 6 per frame outbound: 5 per tick
///   (`PlayoutWheel.fire` → `firstIndex(where:)` and `for call in due`; `Call.pump` →
///   `queue.first` twice and `queue.contains(where:)`) plus 50 every 50th frame
///   (`CallMetricsObserver.flush` → `for gap in pendingGaps`). Each was a 40-byte coroutine
///   frame: unspecialised standard-library code (`first`, `firstIndex(where:)`,
///   `contains(where:)`, `first(where:)`, a `for` loop's `IndexingIterator`) reading an `Array`
///   element through the `Collection` witness. Optimised builds specialise those calls; index
///   loops (`while i < array.count { array[i] … }`, `array.isEmpty` / `array[0]`) allocate
///   nothing in either build, which is what keeps this test meaningful under `swift test`.
///
/// The call's timer: `EmbeddedEventLoop` implements `scheduleCallback` with NIO's default (a
/// scheduled task, a promise and closures: several allocations a tick), while the server's
/// `SelectableEventLoop` files the handler in its own task queue, unboxed. The call therefore
/// runs on `ManualTimerLoop` — the embedded loop's clock and thread, with a timer that keeps
/// handlers in a reserved array and whose bookkeeping is not counted — so what is counted is
/// the tick itself, from the wheel's wake-up to the write, and not the test loop's timer.
///
/// `ALLOCATION_STACKS=1` prints the recorded stacks (module+offset; `addr2line -f -e
/// .build/debug/VoiceBridgePackageTests.xctest OFFSET | swift demangle` names a frame).
@Suite(.enabled(if: AllocationCounter.isSupported, "the malloc interposer is Linux/glibc only"))
struct AllocationTests {
    @Test func mediaPathAllocatesNothingPerFrame() throws {
        let m = try MediaPathRig.measure(putAllocationBack: false)
        // NIO's part of the call's timer on the server's real loop, for the record (not ours,
        // not asserted): see `SelectableLoopTimer`.
        let timer = try SelectableLoopTimer.allocationsPerTick(ticks: 50)
        print("\(m.summary); SelectableEventLoop timer \(timer) per wake-up")
        if ProcessInfo.processInfo.environment["ALLOCATION_STACKS"] != nil {
            print("\(m.stacks)NIO, first inbound allocation:\n\(m.nioStacks)")
        }
        // The window is what it should be: every tick sent a frame, every message was handled,
        // and the caller's speech started and stopped inside it.
        #expect(m.inboundFrames == MediaPathRig.windowFrames)
        #expect(m.outboundFrames == MediaPathRig.windowFrames)
        #expect(m.speechStarts == 1 && m.speechStops == 1, "speech events in the window: \(m.summary)")
        let failures = m.failures
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))\n\(m.summary)\n\(m.stacks)")
    }

    /// A call that listens (speech-to-text on) forwards every caller frame to its transcriber
    /// through `TranscriptionTap`: still nothing per frame. The transcriber here keeps the bytes
    /// in storage it reserved, as `RealtimeTranscriber` does; its 100 ms chunks to the service are
    /// on the socket's side and not per frame.
    @Test func aListeningCallAllocatesNothingPerFrame() throws {
        let m = try MediaPathRig.measure(putAllocationBack: false, listening: true)
        print("listening: \(m.summary); \(m.transcribedBytes) bytes to the transcriber")
        #expect(m.inboundFrames == MediaPathRig.windowFrames)
        #expect(m.transcribedBytes == MediaPathRig.windowFrames * 160, "every caller frame reached the transcriber")
        #expect(m.failures.isEmpty, "\(m.failures.joined(separator: "\n"))\n\(m.summary)\n\(m.stacks)")
    }

    /// The check can fail: with one allocation put back on each path (a `MediaCall` wrapper that
    /// allocates per inbound `media` message, an observer that allocates per frame sent), the
    /// counter finds exactly one more per frame on each path, and both paths fail the zero check.
    @Test func anAllocationPutBackOnThePathFailsTheCheck() throws {
        let clean = try MediaPathRig.measure(putAllocationBack: false)
        let m = try MediaPathRig.measure(putAllocationBack: true)
        print(m.summary)
        #expect(m.inboundFrames == MediaPathRig.windowFrames)
        #expect(m.outboundFrames == MediaPathRig.windowFrames)
        #expect(m.inboundOurs - clean.inboundOurs == m.inboundFrames, "\(m.summary)")
        #expect(m.outboundOurs - clean.outboundOurs == m.outboundFrames, "\(m.summary)")
        #expect(m.inboundNIO == clean.inboundNIO, "NIO's share does not move")
        #expect(m.failures.count == 2, "\(m.failures)")
        #expect(!m.inboundStacks.isEmpty, "the allocations are recorded with their stacks")
        #expect(!m.outboundStacks.isEmpty, "the allocations are recorded with their stacks")
    }
}

/// What one measurement found, over the counted window.
struct MediaPathAllocations {
    var inboundFrames = 0
    var outboundFrames = 0
    /// `MediaStreamHandler.channelRead` onwards (and `channelReadComplete`).
    var inboundOurs = 0
    /// The WebSocket frame decoder, protocol error handler and aggregator in front of it.
    var inboundNIO = 0
    /// The tick: `Call.pump` down to the pipeline's write and flush.
    var outboundOurs = 0
    /// The channel core below the pipeline (EmbeddedChannel's buffers here).
    var outboundChannel = 0
    var speechStarts = 0
    var speechStops = 0
    /// Caller audio the listening call's transcriber took in the window.
    var transcribedBytes = 0
    /// Where NIO's first inbound allocation came from (for reports; not asserted).
    var nioStacks = ""
    /// Where the first allocations of each path came from (a few frames' worth).
    var inboundStacks = ""
    var outboundStacks = ""
    var stacks: String {
        (inboundStacks.isEmpty ? "" : "inbound, ours:\n\(inboundStacks)")
            + (outboundStacks.isEmpty ? "" : "outbound, ours:\n\(outboundStacks)")
    }

    var failures: [String] {
        var out: [String] = []
        if inboundOurs > 0 {
            out.append("inbound media: \(inboundOurs) allocations in \(inboundFrames) frames (want 0)")
        }
        if outboundOurs > 0 {
            out.append("outbound media: \(outboundOurs) allocations in \(outboundFrames) frames (want 0)")
        }
        return out
    }

    var summary: String {
        func perFrame(_ count: Int, _ frames: Int) -> String {
            frames == 0 ? "-" : String(format: "%.3f", Double(count) / Double(frames))
        }
        return "media path allocations: inbound \(inboundFrames) frames, ours \(inboundOurs) "
            + "(\(perFrame(inboundOurs, inboundFrames))/frame), NIO WebSocket decoding \(inboundNIO) "
            + "(\(perFrame(inboundNIO, inboundFrames))/frame); outbound \(outboundFrames) frames, ours \(outboundOurs) "
            + "(\(perFrame(outboundOurs, outboundFrames))/frame), channel core \(outboundChannel)"
    }
}

/// One call through the media pipeline on virtual time (see `AllocationTests`).
final class MediaPathRig {
    static let warmUpFrames = 100  // 2 s
    static let windowFrames = 150  // 3 s
    /// Longer than warm-up and window together, so a frame goes out on every tick.
    static let promptMs = 8_000

    let loop = EmbeddedEventLoop()
    let callLoop: ManualTimerLoop
    let channel: EmbeddedChannel
    let head = HeadProbe()
    let handlerProbe = HandlerProbe()
    let slot: CallSlot
    /// Where the first allocations of a tick came from (taken uncounted).
    private(set) var outboundStacks = ""
    private var outboundCountsSeen: [Int] = []

    init(putAllocationBack: Bool, listening: Bool = false) throws {
        callLoop = ManualTimerLoop(base: loop)
        slot = CallSlot(
            callLoop: callLoop,
            flow: LongPromptFlow(prompt: CallerSignal.speech(ms: Self.promptMs, levelDBm0: -16), listening: listening),
            putAllocationBack: putAllocationBack,
            transcription: listening ? ReservedBufferTranscription() : nil
        )
        var logger = Logger(label: "test.allocations")
        logger.logLevel = .critical
        let configuration = BridgeConfiguration()
        let slot = self.slot
        let tokens = StreamTokens(secret: Array("allocation-test-secret".utf8), ttlSeconds: 60)
        let parameters = CallParameterStore(capacity: 8, ttlSeconds: 60)
        let transfers = CallParameterStore(capacity: 8, ttlSeconds: 60)
        let liveCalls = LiveCalls()
        let metrics = BridgeMetrics()
        let twilio = TwilioCarrier.surface(CarrierServices(
            configuration: configuration, publicURL: PublicURLCell(.local(port: 0)), tokens: tokens, parameters: parameters,
            transfers: transfers, liveCalls: liveCalls, metrics: metrics, logger: logger))
        let endpoint = MediaEndpoint(
            settings: .init(
                maxMessageBytes: configuration.maxMessageBytes,
                writeStall: .seconds(5),
                startTimeout: .seconds(10),
                drain: .seconds(1),
                maxConcurrentCalls: 10,
                signatureMode: .enforce
            ),
            carriers: [twilio],
            tokens: tokens,
            parameters: parameters,
            transfers: transfers,
            liveCalls: liveCalls,
            metrics: metrics,
            callFactory: { context, sink in slot.makeCall(context: context, sink: sink, configuration: configuration) },
            logger: logger
        )
        channel = EmbeddedChannel(loop: loop)
        // The pipeline the upgrader and BridgeChildChannel build, with the two probes added.
        let handlers = channel.pipeline.syncOperations
        try handlers.addHandler(head)
        try handlers.addHandler(WebSocketFrameEncoder())
        try handlers.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: configuration.maxMessageBytes)))
        try handlers.addHandler(WebSocketProtocolErrorHandler())
        // What the upgrader leaves, then what the server makes of it (its handler in front of
        // NIO's decoder), and the probe just in front of the handler.
        try endpoint.installPipeline(on: channel, for: .init(callSid: Twilio.callSid, parameters: [:], carrier: twilio))
        let media = try handlers.context(handlerType: MediaStreamHandler<TwilioDialect>.self)
        try handlers.addHandler(handlerProbe, position: .before(media.handler))
    }

    static func measure(putAllocationBack: Bool, listening: Bool = false) throws -> MediaPathAllocations {
        let rig = try MediaPathRig(putAllocationBack: putAllocationBack, listening: listening)
        defer { rig.close() }
        // The caller: silence with a burst of speech, in warm-up (0.3–1.1 s, over by 1.5 s with
        // the detector's hangover) and in the window (0.5–1.5 s into it, over by 1.9 s).
        let silence = [UInt8](repeating: 0xFF, count: 160)
        let speech = CallerSignal.speech(ms: 1_000)
        func callerFrame(_ n: Int) -> [UInt8] {
            let (first, end) = n < warmUpFrames ? (15, 55) : (warmUpFrames + 25, warmUpFrames + 75)
            guard n >= first, n < end else { return silence }
            let offset = (n - first) * 160
            return Array(speech[offset..<offset + 160])
        }
        // Every inbound message is on the wire before counting starts: the test's own work
        // (JSON, base64, masking) is not the server's.
        let messages = (0..<(warmUpFrames + windowFrames)).map { n in
            WSFrame.encode(opcode: WSFrame.text, payload: Array(Twilio.media(sequence: n + 2, payload: callerFrame(n)).utf8))
        }

        try rig.send(Twilio.connected())
        try rig.send(Twilio.start(callSid: Twilio.callSid))
        let opening = try rig.drainOutbound()
        try #require(opening.count == 3, "the opening lead: three frames at once, got \(opening.count)")

        for n in 0..<warmUpFrames {
            _ = try rig.step(messages[n])
        }
        var m = MediaPathAllocations()
        rig.head.reset()
        rig.handlerProbe.reset()
        rig.resetOutboundStacks()
        rig.slot.flow.resetCounts()
        let transcribedBefore = rig.slot.transcription?.transcriber?.received ?? 0
        AllocationCounter.resetRecords()
        for n in warmUpFrames..<(warmUpFrames + windowFrames) {
            let step = try rig.step(messages[n])
            m.outboundFrames += step.mediaFrames
            m.outboundOurs += step.tickAllocations
        }
        m.inboundStacks = rig.handlerProbe.stacks
        m.nioStacks = rig.head.stacks
        m.outboundStacks = rig.outboundStacks
        m.inboundFrames = rig.handlerProbe.reads
        m.inboundOurs = rig.handlerProbe.allocations
        m.inboundNIO = rig.head.inboundAllocations - rig.handlerProbe.allocations
        m.outboundChannel = rig.head.outboundAllocations
        m.outboundOurs -= rig.head.outboundAllocations
        m.speechStarts = rig.slot.flow.speechStarts
        m.speechStops = rig.slot.flow.speechStops
        m.transcribedBytes = (rig.slot.transcription?.transcriber?.received ?? 0) - transcribedBefore
        return m
    }

    func resetOutboundStacks() {
        outboundStacks = ""
        outboundCountsSeen = []
    }

    /// One text message from the carrier, through the whole pipeline.
    func send(_ text: String) throws {
        try channel.writeInbound(WSFrame.encode(opcode: WSFrame.text, payload: Array(text.utf8)))
    }

    /// 20 ms: time passes, the call's tick sends (counted), the socket takes the bytes, and the
    /// carrier's next message arrives (counted by the probes).
    func step(_ message: ByteBuffer) throws -> (mediaFrames: Int, tickAllocations: Int) {
        loop.advanceTime(by: .milliseconds(20))
        var tickAllocations = 0
        callLoop.fireDueCallbacks { fire in
            tickAllocations += AllocationCounter.count(recording: true, fire)
        }
        if tickAllocations > 0 {
            // The stacks of the first tick with each distinct count, for up to three counts.
            if outboundCountsSeen.count < 3, !outboundCountsSeen.contains(tickAllocations) {
                outboundCountsSeen.append(tickAllocations)
                outboundStacks += "a tick with \(tickAllocations):\n" + AllocationCounter.takeRecords()
            } else {
                AllocationCounter.resetRecords()
            }
        }
        // Taking the batch and dropping it is what the socket does once written: the call's
        // buffer is uniquely owned again and reused.
        let sent = try drainOutbound()
        let streamPrefix = #"{"event":"media","streamSid":"\#(Twilio.streamSid)""#
        let media = sent.filter { $0.opcode == WSFrame.text && $0.text.hasPrefix(streamPrefix) }.count
        try channel.writeInbound(message)
        return (media, tickAllocations)
    }

    func drainOutbound() throws -> [WSFrame] {
        var frames: [WSFrame] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            while let frame = WSFrame.parse(&buffer) { frames.append(frame) }
            #expect(buffer.readableBytes == 0, "a partial frame was written")
        }
        return frames
    }

    func close() {
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }
}

/// Where the factory leaves the call, and what it makes it with.
final class CallSlot: @unchecked Sendable {
    let callLoop: ManualTimerLoop
    let flow: LongPromptFlow
    let putAllocationBack: Bool
    let transcription: ReservedBufferTranscription?

    init(callLoop: ManualTimerLoop, flow: LongPromptFlow, putAllocationBack: Bool, transcription: ReservedBufferTranscription? = nil) {
        self.callLoop = callLoop
        self.flow = flow
        self.putAllocationBack = putAllocationBack
        self.transcription = transcription
    }

    /// The production call (`DemoCalls.makeCall`, as `serve` makes it) with the server's metrics
    /// observer, on the call's timer loop. Putting an allocation back wraps call and observer.
    func makeCall(context: MediaCallContext, sink: any CarrierSink, configuration: BridgeConfiguration) -> any MediaCall {
        let callContext = MediaCallContext(
            eventLoop: callLoop,
            callSid: context.callSid,
            parameters: context.parameters,
            observer: putAllocationBack ? AllocatingObserver(base: context.observer) : context.observer,
            logger: context.logger,
            recorder: context.recorder,
            accountSid: context.accountSid
        )
        let call = DemoCalls.makeCall(
            context: callContext, sink: sink, configuration: configuration.callConfiguration,
            speech: ScriptedSpeech(), flow: flow, transcription: transcription
        )
        return putAllocationBack ? AllocatingCall(call) : call
    }
}

/// Plays one long prompt that nothing interrupts, and counts the caller's speech events
/// (integers only: it runs inside the counted region).
final class LongPromptFlow: CallFlow {
    let prompt: [UInt8]
    let listening: Bool
    private(set) var speechStarts = 0
    private(set) var speechStops = 0

    init(prompt: [UInt8], listening: Bool = false) {
        self.prompt = prompt
        self.listening = listening
    }

    func start(_ call: any CallControl) {
        call.play(.audio(prompt, text: "a prompt long enough for the whole test"), id: "long", interruptible: .none)
        if listening { _ = call.listen(ListenRequest(languageCode: "en")) }
    }

    func handle(_ event: FlowEvent, _ call: any CallControl) {
        switch event {
        case .callerSpeechStarted: speechStarts += 1
        case .callerSpeechStopped: speechStops += 1
        default: break
        }
    }

    func resetCounts() {
        speechStarts = 0
        speechStops = 0
    }
}

/// An allocation put back on the inbound path: one object per `media` message.
final class AllocatingCall: MediaCall {
    let call: Call
    private var kept: AllocationWitness?

    init(_ call: Call) { self.call = call }

    func receive(_ event: CarrierEvent) {
        if case .media(let media) = event { kept = AllocationWitness(media.sequenceNumber) }
        call.receive(event)
    }

    func socketClosed() { call.socketClosed() }
    func statusCallback(_ status: String) { call.statusCallback(status) }
    func shutdown() { call.shutdown() }
}

/// An allocation put back on the outbound path: one object per frame sent.
final class AllocatingObserver: CallObserver {
    let base: any CallObserver
    private var kept: AllocationWitness?

    init(base: any CallObserver) { self.base = base }

    func callStarted() { base.callStarted() }
    func frameSent(gapNanos: Int64?) {
        kept = AllocationWitness(Int(gapNanos ?? 0))
        base.frameSent(gapNanos: gapNanos)
    }
    func firstAudio(latencyNanos: Int64) { base.firstAudio(latencyNanos: latencyNanos) }
    func bargeIn(latencyNanos: Int64, accepted: Bool, reason: String) {
        base.bargeIn(latencyNanos: latencyNanos, accepted: accepted, reason: reason)
    }
    func error(kind: String) { base.error(kind: kind) }
    func callEnded(_ reason: CallEndReason) { base.callEnded(reason) }
}

/// First in the pipeline: counts everything an inbound message costs from the socket's bytes on
/// (NIO's WebSocket layers and ours), and what the channel core below it allocates for writes and
/// flushes while a count is running.
final class HeadProbe: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer

    private(set) var inboundAllocations = 0
    private(set) var outboundAllocations = 0
    /// Where the first allocation outside our handler came from (the handler probe takes its own
    /// region's records before this one looks).
    private(set) var stacks = ""

    func reset() {
        inboundAllocations = 0
        outboundAllocations = 0
        stacks = ""
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        record(AllocationCounter.count(recording: true) { context.fireChannelRead(data) })
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        record(AllocationCounter.count(recording: true) { context.fireChannelReadComplete() })
    }

    private func record(_ count: Int) {
        inboundAllocations += count
        guard count > 0 else { return }
        if stacks.isEmpty, vb_alloc_record_count() > 0 {
            stacks = AllocationCounter.takeRecords()
        } else {
            AllocationCounter.resetRecords()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let before = vb_alloc_count()
        context.write(data, promise: promise)
        outboundAllocations += Int(vb_alloc_count() - before)
    }

    func flush(context: ChannelHandlerContext) {
        let before = vb_alloc_count()
        context.flush()
        outboundAllocations += Int(vb_alloc_count() - before)
    }
}

/// Just in front of `MediaStreamHandler`: counts the frames it gets and what handling them costs.
final class HandlerProbe: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame

    private(set) var reads = 0
    private(set) var allocations = 0
    /// Where the first few allocations came from (taken uncounted).
    private(set) var stacks = ""
    private var stacksTaken = 0

    func reset() {
        reads = 0
        allocations = 0
        stacks = ""
        stacksTaken = 0
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let first = Int(vb_alloc_record_count())
        record(AllocationCounter.count(recording: true) { context.fireChannelRead(data) }, first)
        reads += 1
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        let first = Int(vb_alloc_record_count())
        record(AllocationCounter.count(recording: true) { context.fireChannelReadComplete() }, first)
    }

    /// Takes this region's records (those from `first` on), leaving the head probe's.
    private func record(_ count: Int, _ first: Int) {
        allocations += count
        guard count > 0 else { return }
        // Inside the head probe's count: this bookkeeping must not show up there.
        vb_alloc_pause()
        defer { vb_alloc_resume() }
        let taken = AllocationCounter.takeRecords(from: first)
        if stacksTaken < 2 {
            stacksTaken += 1
            stacks += taken
        }
    }
}

/// The call's event loop in these tests: the embedded loop's clock and thread, with a timer of its
/// own that files callbacks without allocating, as `SelectableEventLoop` does, and without
/// counting its own bookkeeping. Everything but `scheduleCallback` goes to the embedded loop.
final class ManualTimerLoop: ForwardingEventLoop, @unchecked Sendable {
    private var pending: [(id: UInt64, deadline: NIODeadline, handler: any NIOScheduledCallbackHandler)] = []
    private var nextID: UInt64 = 1

    override init(base: EmbeddedEventLoop) {
        super.init(base: base)
        pending.reserveCapacity(16)
    }

    @discardableResult
    override func scheduleCallback(
        at deadline: NIODeadline,
        handler: some (NIOScheduledCallbackHandler & Sendable)
    ) throws -> NIOScheduledCallback {
        vb_alloc_pause()
        defer { vb_alloc_resume() }
        let id = nextID
        nextID += 1
        pending.append((id, deadline, handler))
        return NIOScheduledCallback(self, id: id)
    }

    override func cancelScheduledCallback(_ scheduledCallback: NIOScheduledCallback) {
        vb_alloc_pause()
        defer { vb_alloc_resume() }
        guard let id = scheduledCallback.customCallbackID, let index = pending.firstIndex(where: { $0.id == id }) else {
            return
        }
        let entry = pending.remove(at: index)
        entry.handler.didCancelScheduledCallback(eventLoop: self)
    }

    /// Runs every callback due by now, earliest first, each through `run` (which counts it).
    func fireDueCallbacks(_ run: (() -> Void) -> Void) {
        while let index = nextDue() {
            let entry = pending.remove(at: index)
            run { entry.handler.handleScheduledCallback(eventLoop: self) }
        }
    }

    private func nextDue() -> Int? {
        let now = base.now
        var best: Int?
        for index in pending.indices where pending[index].deadline <= now {
            if let current = best, pending[current].deadline <= pending[index].deadline { continue }
            best = index
        }
        return best
    }

    override func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        pending.removeAll()
        queue.async { callback(nil) }
    }
}

/// NIO's part of the call's timer on the server's real loop: a two-word callback handler (the
/// shape of `PlayoutWheel`'s) that reschedules itself 1 ms ahead on a `SelectableEventLoop`, with
/// everything on the loop's thread counted from the first schedule to the last firing (the loop's
/// own wake-ups included). Real time, but the count does not depend on it: one wake-up per callback.
final class SelectableLoopTimer: @unchecked Sendable {  // used on its loop only
    private let loop: any EventLoop
    private let done: EventLoopPromise<Int>
    private var remaining: Int
    private let warmUp: Int
    private var fired = 0
    private var before: UInt64 = 0
    private var previousRecording: Int32 = 0

    private init(loop: any EventLoop, ticks: Int, warmUp: Int, done: EventLoopPromise<Int>) {
        self.loop = loop
        self.remaining = ticks + warmUp
        self.warmUp = warmUp
        self.done = done
    }

    static func allocationsPerTick(ticks: Int) throws -> Int {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let done = loop.makePromise(of: Int.self)
        let timer = SelectableLoopTimer(loop: loop, ticks: ticks, warmUp: 10, done: done)
        return try withExtendedLifetime(timer) {
            try loop.submit { timer.schedule() }.wait()
            return try done.futureResult.wait() / ticks
        }
    }

    private func schedule() {
        let deadline = NIODeadline.now() + .milliseconds(1)
        _ = try? loop.scheduleCallback(at: deadline, handler: Handler(timer: Unmanaged.passUnretained(self), tick: Int64(fired)))
    }

    fileprivate func fire() {
        fired += 1
        remaining -= 1
        if fired == warmUp {
            previousRecording = vb_alloc_set_recording(1)
            AllocationCounter.resetRecords()
            before = vb_alloc_count()
            vb_alloc_arm()
        }
        if remaining > 0 { return schedule() }
        let count = Int(vb_alloc_disarm() - before)
        vb_alloc_set_recording(previousRecording)
        if ProcessInfo.processInfo.environment["ALLOCATION_STACKS"] != nil {
            print("SelectableEventLoop timer:\n" + AllocationCounter.takeRecords())
        }
        done.succeed(count)
    }

    /// Two words, like `PlayoutWheel`'s handler.
    private struct Handler: NIOScheduledCallbackHandler, @unchecked Sendable {
        let timer: Unmanaged<SelectableLoopTimer>
        let tick: Int64
        func handleScheduledCallback(eventLoop: some EventLoop) { timer.takeUnretainedValue().fire() }
    }
}

/// Speech-to-text for the allocation test: a transcriber that keeps caller audio in storage it
/// reserved up front (as `RealtimeTranscriber` keeps its replay buffer) and counts it.
final class ReservedBufferTranscription: TranscriberProvider, @unchecked Sendable {
    private(set) var transcriber: ReservedBufferTranscriber?

    func makeTranscriber(
        _ request: ListenRequest, format: ScribeSettings.AudioFormat, on eventLoop: any EventLoop,
        onEvent: @escaping (RealtimeTranscriber.Event) -> Void
    ) -> any CallTranscriber {
        let made = ReservedBufferTranscriber()
        transcriber = made
        return made
    }
}

final class ReservedBufferTranscriber: CallTranscriber {
    private var storage = [UInt8](repeating: 0, count: 64 * 1024)
    private var end = 0
    private(set) var received = 0

    func start() {}
    func append(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        while i < bytes.count {
            if end == storage.count { end = 0 }
            storage[end] = bytes[i]
            end += 1
            i += 1
        }
        received += bytes.count
    }
    func commit() {}
    func stop() {}
}
