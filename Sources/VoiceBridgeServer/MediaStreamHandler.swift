import Logging
import NIOCore
import VoiceBridgeCalls
import VoiceBridgeCarriers
import NIOWebSocket
import VoiceBridgeRecording

/// One carrier media socket in `Dialect`'s protocol, as a raw NIO handler on the socket's event loop, which is
/// also the call's loop: inbound frames are decoded and handed to the call without a hop, and the
/// call writes outbound frames straight back through `CarrierSink`.
///
/// Anything wrong with the input closes this socket only, with a logged reason and a close code
/// (1002 broken framing, 1003 binary, 1007 undecodable, 1008 policy, 1009 too large); it never throws past the
/// pipeline, so other calls on the server carry on.
final class MediaStreamHandler<Dialect: CarrierDialect>: ChannelInboundHandler, RemovableChannelHandler {
    /// The socket's bytes after the upgrade: frames are read here (`WebSocketFrameReader`), not by
    /// NIO's decoder, so a message costs no allocation and no trip through more handlers.
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private let endpoint: MediaEndpoint
    private let admission: MediaEndpoint.Admission
    private var logger: Logger
    private var session: MediaSession<Dialect>
    /// The session's encoder, once the stream started (held here: read on every outbound frame).
    private var encoder: Dialect.Encoder?
    private var batch: TextFrameBatch?
    private var reader: WebSocketFrameReader?
    private let observer: CallMetricsObserver
    /// The call's history for the live console; nil when the server has no console.
    private var consoleLog: CallConsoleLog?
    /// This call's recorder, when the server records calls.
    private var recorder: CallRecorder?

    private var context: ChannelHandlerContext?
    /// The frame encoder's context: writes through it skip the encoder, which is how the
    /// pre-framed batches of `TextFrameBatch` reach the socket.
    private var rawContext: ChannelHandlerContext?
    private var call: (any MediaCall)?
    private var registration: UInt64?
    /// A close frame was sent or the socket is being closed: ignore input, send nothing more.
    private var closing = false
    /// Tracked from `channelWritabilityChanged` rather than asked of the channel on every tick:
    /// the call reads it 50 times a second, and the channel lookup showed in profiles.
    private var writable = true
    private var callEnded = false
    private var stallTimer: Scheduled<Void>?
    private var startTimer: Scheduled<Void>?
    private var drainTimer: Scheduled<Void>?

    init(endpoint: MediaEndpoint, admission: MediaEndpoint.Admission, logger: Logger) {
        self.endpoint = endpoint
        self.admission = admission
        self.logger = logger
        self.session = MediaSession(
            callID: admission.callSid, accountID: admission.carrier.expectedAccountID, maxMessageBytes: endpoint.settings.maxMessageBytes)
        self.observer = CallMetricsObserver(metrics: endpoint.metrics)
    }

    // MARK: lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.rawContext = try? context.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        self.batch = TextFrameBatch(allocator: context.channel.allocator)
        self.reader = WebSocketFrameReader(maxMessageBytes: endpoint.settings.maxMessageBytes, allocator: context.channel.allocator)
        guard let id = endpoint.liveCalls.register(callSid: admission.callSid, control: self, eventLoop: context.eventLoop) else {
            logger.info("media socket refused: server is draining")
            closeStream(.goingAway, "server shutting down")
            return
        }
        registration = id
        recorder = endpoint.recordings?.recorder(callSid: admission.callSid)
        recorder?.useDialect(Dialect.self)
        if endpoint.settings.console {
            let log = CallConsoleLog(eventLoop: context.eventLoop)
            // Only From and To of the webhook's fields: the rest may carry what a page should not show.
            log.from = admission.parameters["From"] ?? ""
            log.to = admission.parameters["To"] ?? ""
            consoleLog = log
            observer.console = log
        }
        let callContext = MediaCallContext(
            eventLoop: context.eventLoop,
            callSid: admission.callSid,
            parameters: admission.parameters,
            observer: observer,
            logger: logger,
            recorder: recorder,
            accountSid: admission.carrier.expectedAccountID,
            dialect: Dialect.name,
            mediaFormat: admission.carrier.mediaFormat,
            consoleLog: consoleLog
        )
        call = endpoint.callFactory(callContext, self)
        logger.info("media socket open")
        startTimer = context.eventLoop.assumeIsolated().scheduleTask(in: endpoint.settings.startTimeout) {
            self.startTimer = nil
            self.endpoint.metrics.recordError(kind: "start_timeout")
            self.closeStream(.policyViolation, "no start message in time")
        }
        updateStallTimer(context)
        if rawContext == nil {
            // Cannot happen with the upgrader's pipeline; without it nothing could be sent.
            logger.error("no WebSocketFrameEncoder in the pipeline")
            closeStream(.unexpectedServerError, "server error")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        endCall()
        self.context = nil
        self.rawContext = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        logger.info("media socket closed")
        endCall()
        context.fireChannelInactive()
    }

    /// Delivers the socket's end to the call once, then lets go of it (the call holds this
    /// handler as its sink, so keeping it would be a cycle).
    private func endCall() {
        stallTimer?.cancel()
        stallTimer = nil
        startTimer?.cancel()
        startTimer = nil
        drainTimer?.cancel()
        drainTimer = nil
        if let registration {
            endpoint.liveCalls.remove(registration)
            self.registration = nil
        }
        guard !callEnded else { return }
        callEnded = true
        closing = true
        admission.carrier.streamEnded?(admission.callSid)
        let call = self.call
        self.call = nil
        recorder?.socketClosed()
        call?.socketClosed()
        observer.flush()
        recorder?.finish()
        recorder = nil
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard !closing, var reader else { return }
        self.reader = nil  // keep its buffers uniquely owned while it reads
        do {
            try reader.read(bytes) { frame throws(WebSocketFrameReader.Failure) in
                guard !closing else { return }
                receive(frame)
            }
        } catch {
            switch error {
            case let .protocolError(reason):
                endpoint.metrics.recordError(kind: "websocket_protocol")
                closeStream(.protocolError, reason)
            case let .tooLarge(reason):
                endpoint.metrics.recordError(kind: "message_too_large")
                closeStream(.messageTooLarge, reason)
            }
        }
        self.reader = reader
    }

    /// A recorded call's tick that is due but has not run: the input arriving now is recorded
    /// just before it, so a replay (whose ticks run on time) handles the two in the live order.
    private var overdueTick: Int64? {
        guard recorder != nil else { return nil }
        return call?.overdueTick(at: Int64(NIODeadline.now().uptimeNanoseconds))
    }

    private func receive(_ frame: WebSocketFrameReader.Frame) {
        switch frame {
        case let .text(text):
            // Raw, before decoding, so that a malformed message is kept verbatim.
            recorder?.inbound(String(buffer: text), beforeTick: overdueTick)
            receive(session.receive(.text(text)))
        case let .binary(data):
            recorder?.inboundBinary(Array(data.readableBytesView), beforeTick: overdueTick)
            receive(session.receive(.binary(data)))
        case let .ping(data):
            sendControl(.pong, data: data)
        case .pong:
            break
        case let .close(data):
            var data = data
            let code = data.readWebSocketErrorCode() ?? .normalClosure
            logger.info("peer closed the media socket", metadata: ["code": "\(code)"])
            closeStream(code, nil, log: false)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Calls usually flush themselves; this catches anything written while handling input.
        if (batch?.pendingBytes ?? 0) > 0 { flush() }
        context.fireChannelReadComplete()
    }

    private func receive(_ step: MediaSession<Dialect>.Step) {
        switch step {
        case .forward(let event):
            call?.receive(event)
        case .started(let start):
            startTimer?.cancel()
            startTimer = nil
            encoder = session.encoder
            logger[metadataKey: "streamID"] = "\(start.streamID)"
            logger.info("stream started", metadata: ["format": "\(start.mediaFormat)"])
            call?.receive(.start(start))
        case .ignore:
            break
        case .close(let code, let reason, let kind):
            endpoint.metrics.recordError(kind: kind)
            recorder?.refused(code: Int(code.rawValue), reason: reason)
            closeStream(WebSocketErrorCode(codeNumber: Int(code.rawValue)), reason)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("media socket error", metadata: ["error": "\(error)"])
        closing = true
        context.close(promise: nil)
    }

    // MARK: back-pressure and drain

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        updateStallTimer(context)
        context.fireChannelWritabilityChanged()
    }

    private func updateStallTimer(_ context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stallTimer?.cancel()
            stallTimer = nil
        } else if stallTimer == nil, !closing {
            // The call skips ticks while unwritable; a peer that never reads again is cut off
            // instead of letting writes queue without bound.
            stallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: endpoint.settings.writeStall) {
                self.writeStallExpired()
            }
        }
    }

    private func writeStallExpired() {
        stallTimer = nil
        guard let context, !context.channel.isWritable, !closing else { return }
        logger.warning("peer stopped reading; closing media socket")
        endpoint.metrics.recordError(kind: "write_stall")
        closing = true
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            drain()
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            // Hummingbird's server allows half-closure; a media peer that stops sending is gone.
            logger.info("peer closed its side of the media socket")
            closing = true
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: closing

    /// Sends a close frame (after anything still batched) and closes the socket. Idempotent.
    private func closeStream(_ code: WebSocketErrorCode, _ reason: String?, log: Bool = true) {
        guard !closing, let context else { return }
        closing = true
        if log {
            logger.warning("closing media socket", metadata: ["code": "\(code)", "reason": "\(reason ?? "")"])
        }
        flush()
        var data = context.channel.allocator.buffer(capacity: 125)
        data.write(webSocketErrorCode: code)
        if let reason {
            // A close frame carries at most 123 bytes of reason; cut on a character boundary.
            var utf8 = 0
            var cut = reason.endIndex
            for index in reason.indices {
                let size = reason[index].utf8.count
                if utf8 + size > 123 { cut = index; break }
                utf8 += size
            }
            data.writeString(String(reason[..<cut]))
        }
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in
            bound.value.close(promise: nil)
        }
    }

    private func sendControl(_ opcode: WebSocketOpcode, data: ByteBuffer) {
        guard let context, !closing else { return }
        flush()
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, data: data)), promise: nil)
    }

    private static func closeCode(for reason: CallEndReason) -> WebSocketErrorCode {
        switch reason {
        case .serverShutdown: .goingAway
        case .protocolError: .policyViolation
        default: .normalClosure
        }
    }
}

// MARK: CarrierSink

/// Flushes above this much batched output even if the call has not asked yet.
private let mediaAutoFlushBytes = 32 * 1024

extension MediaStreamHandler: CarrierSink {

    func sendMedia(_ frame: UnsafeRawBufferPointer) {
        guard !closing, let encoder else { return }
        batch?.append(binary: encoder.mediaFrameKind == .binary) { encoder.writeMedia(frame, into: &$0) }
        flushIfLarge()
    }

    func sendMark(_ name: String) {
        guard !closing, let encoder else { return }
        batch?.append { encoder.writeMark(name: name, into: &$0) }
        flushIfLarge()
    }

    func sendClear() {
        guard !closing, let encoder else { return }
        batch?.append { encoder.writeClear(into: &$0) }
        flushIfLarge()
    }

    func flush() {
        guard let context else { return }
        if let rawContext, let frames = batch?.takeBatch() {
            rawContext.write(NIOAny(frames), promise: nil)
        }
        context.flush()
    }

    var isWritable: Bool { writable && context != nil }

    var echoesMarksOnClear: Bool { Dialect.rules.echoesMarksOnClear }
    var minimumMediaBytes: Int { Dialect.rules.minimumMediaBytes }

    func transfer(to destination: CallTransfer) {
        endpoint.transfers.remember(callSid: admission.callSid, parameters: destination.parameters)
    }

    func close(_ reason: CallEndReason) {
        closeStream(Self.closeCode(for: reason), "\(reason)", log: false)
        logger.info("call closed the media socket", metadata: ["reason": "\(reason)"])
    }

    private func flushIfLarge() {
        if (batch?.pendingBytes ?? 0) >= mediaAutoFlushBytes { flush() }
    }

    /// Buffers allocated for outbound frames so far (1 while the socket keeps up).
    var outboundBufferAllocations: Int { batch?.allocations ?? 0 }
}

// MARK: LiveCallControl

extension MediaStreamHandler: LiveCallControl {
    func endByStatusCallback(_ status: String) {
        logger.info("status callback ends the call", metadata: ["status": "\(status)"])
        call?.statusCallback(status)
    }

    func say(_ text: String, interruptible: Interruptible) -> Bool {
        call?.controlSay(text, interruptible: interruptible) ?? false
    }

    func controlHangUp() -> Bool {
        call?.controlHangUp() ?? false
    }

    var liveState: LiveCallState? { call?.liveState }

    func consoleSample(metering: Bool) -> ConsoleCallSample? {
        guard let call, let reading = call.consoleReading(metering: metering) else { return nil }
        var sample = ConsoleCallSample(callSid: admission.callSid)
        if let log = consoleLog {
            sample.from = log.from
            sample.to = log.to
            sample.flow = log.flowName
            sample.source = log.speechSource
            sample.step = log.step
            sample.prompt = log.lastPrompt
            sample.eventsVersion = log.version
            sample.events = log.events
        }
        sample.phase = reading.phase
        sample.playing = reading.playing
        sample.listening = reading.transcribing || sample.step.hasPrefix("menu") || sample.step.hasPrefix("gather")
        sample.levelIn = reading.levelIn
        sample.levelOut = reading.levelOut
        return sample
    }

    /// SIGTERM: the call runs on for the drain time (its flow may end it), then says goodbye and
    /// hangs up (1000); a call still open once the goodbye's time is up too is closed (1001).
    func drain() {
        guard drainTimer == nil, !closing, let context else { return }
        let loop = context.eventLoop.assumeIsolated()
        drainTimer = loop.scheduleTask(in: endpoint.settings.drain) {
            self.drainTimer = nil
            guard !self.closing else { return }
            self.call?.shutdown()
            guard !self.closing else { return }
            self.drainTimer = loop.scheduleTask(in: self.endpoint.settings.drainGoodbye) {
                self.drainTimer = nil
                self.closeStream(.goingAway, "server shutting down")
            }
        }
    }
}
