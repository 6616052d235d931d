import Histogram
import NIOCore
import NIOWebSocket
import VoiceBridgeAudio
import VoiceBridgeCarriers

/// What one simulated call is set up with.
struct SimulatedCallSetup: Sendable {
    static let frameInterval = TimeAmount.milliseconds(20)

    var callSid: String
    var accountSid: String
    var streamSid: String
    var webhookURL: String
    var streamURL: String
    var customParameters: [(String, String)]
    var script: CallScript
    var track: CallerTrack
    var recordHeard: Bool
    var webhookMs: Double?
    var twimlAfterStream: [String] = []
    var connectStarted: NIODeadline
    /// The numbers, for carriers that carry them in `start` (Telnyx).
    var from = ""
    var to = ""
}

struct SimulatedCallOutcome: Sendable {
    var timeline: CallTimeline
    var gaps: Histogram<UInt32>
    var sendLateness: Histogram<UInt32>
    var heard: [UInt8]?
}

/// One call's carrier side of the media socket, in `Codec`'s dialect, confined to the channel's
/// event loop.
///
/// One timer per call (a `scheduleCallback(at:)` whose handler is the call itself, so re-arming it
/// allocates nothing): it is armed for the earliest of the next media deadline
/// (`t0 + k × 20 ms`, absolute, never re-anchored), the next mark falling due, the next scripted
/// key press and the hang-up. Each wake-up sends every media frame whose deadline has passed.
final class SimulatedCall<Codec: CarrierPeerCodec>: ChannelInboundHandler, RemovableChannelHandler, NIOScheduledCallbackHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    typealias Setup = SimulatedCallSetup
    typealias Outcome = SimulatedCallOutcome

    static var frameInterval: TimeAmount { SimulatedCallSetup.frameInterval }
    /// Media grids start on a multiple of this on the loop's clock (see `begin`).
    static var phaseQuantum: TimeAmount { .milliseconds(1) }
    /// How long to wait for the server's close reply after our close frame.
    static var closeTimeout: TimeAmount { .seconds(2) }

    private let setup: Setup
    private let done: EventLoopPromise<Outcome>
    private var codec: Codec

    private var playout: CarrierPlayout
    private var context: ChannelHandlerContext?
    private var random: SplitMix64

    private var t0 = NIODeadline.uptimeNanoseconds(0)
    /// From `t0` to the call's media grid origin, under one `phaseQuantum`.
    private var gridOffsetNanos: Int64 = 0
    private var connectMs: Double?
    /// Index of the next media frame (1-based chunk); it is due at `t0 + nextChunk × 20 ms`.
    private var nextChunk = 1
    private var nextDTMF = 0
    private var nextRaw = 0
    private var timer: NIOScheduledCallback?
    private var closeTimer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    private enum State { case idle, streaming, closing, closed }
    private var state = State.idle
    private var endReason = CallTimeline.EndReason.connectionLost
    private var endNanos: Int64?
    private var close: CallTimeline.Close?
    private var socketError: String?

    private var marks: [CallTimeline.Mark] = []
    private var nextUnechoedMark = 0
    private var clears: [CallTimeline.Clear] = []
    private var dtmf: [CallTimeline.DTMF] = []
    private var violations: [CallTimeline.Violation] = []
    private var violationCount = 0
    private var maxGapNanos: Int64 = 0
    /// How late each media frame left against its deadline: the simulator's own health under load.
    private var sendLateness = Histogram<UInt32>.microseconds()
    private var maxLatenessNanos: Int64 = 0

    init(setup: Setup, codec: Codec, done: EventLoopPromise<Outcome>) {
        self.setup = setup
        self.done = done
        self.codec = codec
        self.playout = CarrierPlayout(
            recordHeard: setup.recordHeard, expectedDurationMs: setup.script.endMs, echoesMarksOnClear: codec.echoesMarksOnClear,
            format: setup.track.format)
        var seed = SystemRandomNumberGenerator()
        self.random = SplitMix64(seed: seed.next())
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Added while the HTTP upgrade handler is still in the pipeline (it refuses writes until it
        // removes itself, later in this same turn of the loop): start on the next turn.
        if context.channel.isActive {
            context.eventLoop.assumeIsolated().execute { [self] in
                if let context = self.context { begin(context: context) }
            }
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        begin(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let error as NIOWebSocketError:
            // A frame that breaks RFC 6455 (the protocol error handler already sent 1002).
            recordViolation("WebSocket protocol error: \(error)")
        default:
            // A reset while we are closing is the peer's way of finishing; before that the call was lost.
            if state == .streaming || state == .idle { socketError = "\(error)" }
        }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            handleServerMessage(.text(frame.unmaskedData))
        case .binary:
            // Media on Asterisk; a violation on the JSON dialects (the codec says which).
            handleServerMessage(.binary(frame.unmaskedData))
        case .ping:
            send(WebSocketFrame(fin: true, opcode: .pong, maskKey: nextMaskKey(), data: frame.unmaskedData))
            context.flush()
        case .connectionClose:
            handleClose(frame.unmaskedData)
        default:
            break
        }
    }

    // MARK: Stream lifecycle

    private func begin(context: ChannelHandlerContext) {
        guard state == .idle else { return }
        state = .streaming
        t0 = context.eventLoop.now
        // Put this call's media grid on a whole millisecond of the loop's clock: calls then share
        // at most 20 phases per loop, so one wake-up serves every call of a phase instead of one
        // wake-up (and timerfd re-arm) per call. The grid stays absolute: g0 + k × 20 ms.
        let phase = Int64(t0.uptimeNanoseconds % UInt64(Self.phaseQuantum.nanoseconds))
        gridOffsetNanos = phase == 0 ? 0 : Self.phaseQuantum.nanoseconds - phase
        connectMs = milliseconds(nanos: (t0 - setup.connectStarted).nanoseconds)
        var buffer = makeBuffer(context, capacity: 512)
        if codec.writeConnected(into: &buffer) { sendText(buffer) }
        buffer = makeBuffer(context, capacity: 1024)
        codec.writeStart(from: setup.from, to: setup.to, customParameters: setup.customParameters, into: &buffer)
        sendText(buffer)
        context.flush()
        armTimer()
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        tick()
    }

    private func tick() {
        timer = nil
        timerDeadline = nil
        guard state == .streaming, let context else { return }
        let nowNanos = elapsedNanos()
        let endNanos = gridOffsetNanos + Int64(setup.script.endMs) * 1_000_000  // the hang-up sits on the grid too
        let interval = Self.frameInterval.nanoseconds
        // Catch up on every frame whose deadline passed, as Twilio's media clock would.
        while gridOffsetNanos + Int64(nextChunk) * interval <= min(nowNanos, endNanos) {
            let late = nowNanos - (gridOffsetNanos + Int64(nextChunk) * interval)
            sendLateness.record(UInt64(clamping: min(late / 1000, 60_000_000)))
            maxLatenessNanos = max(maxLatenessNanos, late)
            sendMedia(context: context)
        }
        while nextDTMF < setup.script.dtmf.count, Int64(setup.script.dtmf[nextDTMF].atMs) * 1_000_000 <= nowNanos {
            let cue = setup.script.dtmf[nextDTMF]
            nextDTMF += 1
            guard cue.atMs < setup.script.endMs else { continue }
            if setup.script.dtmfInBand {
                dtmf.append(.init(atMs: Double(cue.atMs), digit: String(cue.digit), mode: .inband))
            } else {
                var buffer = makeBuffer(context, capacity: 160)
                codec.writeDTMF(digit: cue.digit, into: &buffer)
                sendText(buffer)
                dtmf.append(.init(atMs: milliseconds(nanos: nowNanos), digit: String(cue.digit), mode: .event))
            }
        }
        while nextRaw < setup.script.raw.count, Int64(setup.script.raw[nextRaw].atMs) * 1_000_000 <= nowNanos {
            let cue = setup.script.raw[nextRaw]
            nextRaw += 1
            guard cue.atMs < setup.script.endMs else { continue }
            var buffer = makeBuffer(context, capacity: cue.text.utf8.count)
            buffer.writeString(cue.text)
            sendText(buffer)
        }
        playout.advance(to: nowNanos)
        sendEchoes(atNanos: nowNanos)
        if nowNanos >= endNanos {
            hangUp(reason: setup.script.hangupAtMs.map { $0 <= setup.script.maxDurationMs } == true ? .hangup : .maxDuration)
        } else {
            armTimer()
        }
        context.flush()
    }

    private func armTimer() {
        guard state == .streaming, let context else { return }
        let interval = Self.frameInterval.nanoseconds
        var wake = gridOffsetNanos + Int64(nextChunk) * interval
        wake = min(wake, gridOffsetNanos + Int64(setup.script.endMs) * 1_000_000)
        if nextDTMF < setup.script.dtmf.count { wake = min(wake, Int64(setup.script.dtmf[nextDTMF].atMs) * 1_000_000) }
        if nextRaw < setup.script.raw.count { wake = min(wake, Int64(setup.script.raw[nextRaw].atMs) * 1_000_000) }
        if let due = playout.nextMarkDueNanos { wake = min(wake, due) }
        let deadline = t0 + .nanoseconds(wake)
        if let armed = timerDeadline, armed <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        do {
            // The handler is this object: re-arming allocates nothing.
            timer = try context.eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: self)
        } catch {
            // Only when the loop is shutting down.
            timer = nil
            timerDeadline = nil
            socketError = "cannot schedule the media timer: \(error)"
            context.close(promise: nil)
        }
    }

    private func sendMedia(context: ChannelHandlerContext) {
        let chunk = nextChunk
        nextChunk += 1
        var buffer = makeBuffer(context, capacity: 512)
        setup.track.withFrame(chunk - 1) { frame in
            codec.writeMedia(frame, timestampMs: chunk * 20, into: &buffer)
        }
        if codec.mediaFrameKind == .binary {
            send(WebSocketFrame(fin: true, opcode: .binary, maskKey: nextMaskKey(), data: buffer))
        } else {
            sendText(buffer)
        }
    }

    private func hangUp(reason: CallTimeline.EndReason) {
        guard state == .streaming, let context else { return }
        endReason = reason
        endNanos = elapsedNanos()
        var buffer = makeBuffer(context, capacity: 256)
        if codec.writeStop(into: &buffer) { sendText(buffer) }
        sendClose(code: .normalClosure)
        close = CallTimeline.Close(initiator: "caller", code: 1000, reason: nil)
        state = .closing
        context.flush()
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeTimeout) { [self] in
            self.context?.close(promise: nil)
        }
    }

    private func handleClose(_ data: ByteBuffer) {
        var data = data
        let code = data.readInteger(as: UInt16.self).map(Int.init)
        let reason = data.readString(length: data.readableBytes)
        switch state {
        case .streaming:
            endReason = .serverClosed
            endNanos = elapsedNanos()
            close = CallTimeline.Close(initiator: "server", code: code, reason: reason?.isEmpty == false ? reason : nil)
            state = .closing
            // Echo the close as RFC 6455 asks, then drop the connection.
            var reply = context?.channel.allocator.buffer(capacity: 2) ?? ByteBuffer()
            if let code { reply.writeInteger(UInt16(code)) }
            send(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: nextMaskKey(), data: reply))
            context?.flush()
            context?.close(promise: nil)
        case .closing:
            if close?.initiator == "caller", close?.reason == nil {
                close?.reason = reason?.isEmpty == false ? reason : nil
            }
            context?.close(promise: nil)
        case .idle, .closed:
            context?.close(promise: nil)
        }
    }

    private func sendClose(code: WebSocketErrorCode) {
        guard let context else { return }
        var data = makeBuffer(context, capacity: 2)
        data.write(webSocketErrorCode: code)
        send(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: nextMaskKey(), data: data))
    }

    private func finish() {
        guard state != .closed else { return }
        let wasIdle = state == .idle
        state = .closed
        timer?.cancel()
        timer = nil
        closeTimer?.cancel()
        closeTimer = nil
        let nowNanos = wasIdle ? 0 : elapsedNanos()
        let end = endNanos ?? nowNanos
        if endNanos == nil { endReason = wasIdle ? .failed : .connectionLost }
        playout.finish(at: end)
        sendEchoesToTimelineOnly()
        done.succeed(makeOutcome(endNanos: end))
    }

    // MARK: Server messages

    private func handleServerMessage(_ frame: CarrierFrame) {
        guard state == .streaming || state == .closing else {
            // Nothing can be valid before `start`: the server does not know the stream yet.
            if state == .idle { recordViolation("message before start") }
            return
        }
        let nowNanos = elapsedNanos()
        let command: PlayoutCommand
        do {
            command = try codec.decode(frame)
        } catch {
            recordViolation(error.description, atNanos: nowNanos)
            return
        }
        switch command {
        case .media(let payload):
            let expected = codec.expectedMediaBytes(for: setup.track.format)
            if payload.readableBytes != expected {
                recordViolation(Self.payloadSizeViolation(payload.readableBytes, frameBytes: expected), atNanos: nowNanos)
            }
            let before = playout.statistics.gaps.totalCount
            let lastArrival = lastMediaNanos
            payload.withUnsafeReadableBytes { playout.receiveMedia($0, at: nowNanos) }
            if playout.statistics.gaps.totalCount > before, let lastArrival {
                maxGapNanos = max(maxGapNanos, nowNanos - lastArrival)
            }
            lastMediaNanos = nowNanos
        case .mark(let name):
            marks.append(.init(name: name, sentAtMs: milliseconds(nanos: nowNanos), echoedAtMs: nil, outcome: .pending))
            playout.receiveMark(name: name, at: nowNanos)
            sendEchoes(atNanos: nowNanos)
            armTimer()
        case .clear:
            let dropped = playout.receiveClear(at: nowNanos)
            clears.append(.init(atMs: milliseconds(nanos: nowNanos), droppedMs: dropped))
            sendEchoes(atNanos: nowNanos)
            if let context {
                var buffer = makeBuffer(context, capacity: 128)
                if codec.writeClearAcknowledgement(into: &buffer) { sendText(buffer) }
            }
        }
    }

    private var lastMediaNanos: Int64?

    /// Our rule, stricter than Twilio's "any size": the bridge sends whole 20 ms frames.
    static func payloadSizeViolation(_ bytes: Int, frameBytes: Int) -> String {
        "media payload is \(bytes) bytes, not \(frameBytes)"
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    private func sendEchoes(atNanos nanos: Int64) {
        guard !playout.echoes.isEmpty else { return }
        for echo in playout.echoes {
            if echo.acknowledged, state == .streaming || state == .closing, let context {
                var buffer = makeBuffer(context, capacity: 128 + echo.name.utf8.count)
                codec.writeMarkEcho(name: echo.name, into: &buffer)
                sendText(buffer)
            }
            recordEcho(echo, atNanos: nanos)
        }
        playout.removeEchoes()
    }

    private func sendEchoesToTimelineOnly() {
        // Echoes that fell due in the final advance are never sent: the socket is gone.
        playout.removeEchoes()
    }

    private func recordEcho(_ echo: CarrierPlayout.Echo, atNanos nanos: Int64) {
        guard nextUnechoedMark < marks.count else { return }
        marks[nextUnechoedMark].echoedAtMs = milliseconds(nanos: nanos)
        marks[nextUnechoedMark].outcome = echo.played ? .played : .cleared
        nextUnechoedMark += 1
    }

    private func recordViolation(_ message: String, atNanos nanos: Int64? = nil) {
        violationCount += 1
        guard violations.count < CallTimeline.maxViolationsKept else { return }
        let at = nanos ?? (state == .idle ? 0 : elapsedNanos())
        violations.append(.init(atMs: milliseconds(nanos: at), message: message))
    }

    // MARK: Output

    /// Time since `start` was sent, on the loop's clock (virtual on an `EmbeddedEventLoop`).
    private func elapsedNanos() -> Int64 {
        ((context?.eventLoop.now ?? .now()) - t0).nanoseconds
    }

    /// Room in front of the message for the WebSocket header (2 + 8 length + 4 mask bytes), so the
    /// frame encoder writes it in place instead of sending a second buffer per frame.
    static var headerRoom: Int { 14 }

    private func makeBuffer(_ context: ChannelHandlerContext, capacity: Int) -> ByteBuffer {
        var buffer = context.channel.allocator.buffer(capacity: capacity + Self.headerRoom)
        buffer.moveWriterIndex(forwardBy: Self.headerRoom)
        buffer.moveReaderIndex(forwardBy: Self.headerRoom)
        return buffer
    }

    private func sendText(_ buffer: ByteBuffer) {
        send(WebSocketFrame(fin: true, opcode: .text, maskKey: nextMaskKey(), data: buffer))
    }

    private func send(_ frame: WebSocketFrame) {
        context?.write(wrapOutboundOut(frame), promise: nil)
    }

    private func nextMaskKey() -> WebSocketMaskingKey {
        .random(using: &random)
    }

    private func makeOutcome(endNanos: Int64) -> Outcome {
        let stats = playout.statistics
        var gapDistribution = CallTimeline.Distribution(microseconds: stats.gaps)
        if gapDistribution.count > 0 { gapDistribution.maxMs = milliseconds(nanos: maxGapNanos) }
        var latenessDistribution = CallTimeline.Distribution(microseconds: sendLateness)
        if latenessDistribution.count > 0 { latenessDistribution.maxMs = milliseconds(nanos: maxLatenessNanos) }
        var leadDistribution = CallTimeline.Distribution(microseconds: stats.lead)
        if leadDistribution.count > 0 { leadDistribution.maxMs = milliseconds(sample: stats.maxLeadSamples) }
        let timeline = CallTimeline(
            callSid: setup.callSid, accountSid: setup.accountSid, streamSid: setup.streamSid,
            webhookURL: setup.webhookURL, streamURL: setup.streamURL, webhookMs: setup.webhookMs, connectMs: connectMs,
            firstMediaMs: stats.firstMediaNanos.map { milliseconds(nanos: $0) },
            mediaSent: nextChunk - 1, sendLateness: latenessDistribution, mediaReceived: stats.mediaCount,
            gaps: gapDistribution, lead: leadDistribution,
            underruns: .init(
                count: stats.underrunCount, totalMs: milliseconds(sample: stats.underrunSamples),
                intervals: stats.underruns.map { .init(startMs: milliseconds(sample: $0.startSample), endMs: milliseconds(sample: $0.endSample)) }),
            marks: marks, clears: clears,
            heardSegments: stats.heardSegments.map {
                .init(startMs: milliseconds(sample: $0.startSample), endMs: milliseconds(sample: $0.endSample))
            },
            dtmf: dtmf, violationCount: violationCount, violations: violations, close: close,
            endReason: endReason, twimlAfterStream: setup.twimlAfterStream, error: socketError.map { "connection lost: \($0)" },
            durationMs: milliseconds(nanos: endNanos))
        var heard: [UInt8]?
        if setup.recordHeard {
            var bytes = playout.heard
            let format = setup.track.format
            let length = Int(CarrierPlayout.sample(atNanos: endNanos)) * format.bytesPerSecond / 8000
            if bytes.count < length { bytes += [UInt8](repeating: format.silenceByte, count: length - bytes.count) }
            heard = bytes
        }
        return Outcome(timeline: timeline, gaps: stats.gaps, sendLateness: sendLateness, heard: heard)
    }
}


extension SimulatedCall where Codec == TwilioCarrierPeer {
    /// Twilio's side, with the setup's ids.
    convenience init(setup: Setup, done: EventLoopPromise<Outcome>) {
        let identity = CallIdentity(callID: setup.callSid, streamID: setup.streamSid, accountID: setup.accountSid)
        self.init(setup: setup, codec: TwilioCarrierPeer(identity: identity), done: done)
    }
}
