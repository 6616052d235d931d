import Logging
import NIOCore
import NIOWebSocket

/// One realtime speech-to-text WebSocket: feeds `ElevenLabsEmulatorTranscriptionSession` the
/// client's frames and the clock, and sends what it says when it is due. Everything runs on the
/// socket's event loop, with one timer for the session's next deadline.
final class ElevenLabsEmulatorTranscriptionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var session: ElevenLabsEmulatorTranscriptionSession
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var wakeUp = EmulatorWakeUp()
    private var closeTimer: Scheduled<Void>?
    /// A close frame went out, or the connection was dropped: nothing more is sent.
    private var done = false

    init(session: ElevenLabsEmulatorTranscriptionSession, logger: Logger) {
        self.session = session
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let now = NIODeadline.now()
        session.start(now: now)
        carryOut(now: now)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimers()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.clientGone()
        stopTimers()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("websocket error", metadata: ["error": "\(error)"])
        session.clientGone()
        stopTimers()
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            guard !done else { return }
            let now = NIODeadline.now()
            let payload = frame.unmaskedData
            payload.withUnsafeReadableBytes { session.receive($0, now: now) }
            carryOut(now: now)
        case .binary:
            guard !done else { return }
            let now = NIODeadline.now()
            session.receiveBinary(now: now)
            carryOut(now: now)
        case .ping:
            guard !done else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            if done {
                context.close(promise: nil)
                return
            }
            // The client closes first: answer with its code and stop.
            done = true
            session.clientGone()
            stopTimers()
            EmulatorCloseEcho.answer(frame, context: context)
        default:
            break
        }
    }

    // MARK: - Carrying out

    private func carryOut(now: NIODeadline) {
        guard let context else { return }
        var wrote = false
        for output in session.advance(to: now) {
            guard !done else { break }
            switch output {
            case .send(let text):
                // What the emulated model heard, for whoever watches the log; partials only in debug.
                if text.hasPrefix(#"{"message_type":"partial_transcript""#) {
                    logger.debug("sent", metadata: ["message": "\(text)"])
                } else {
                    logger.info("sent", metadata: ["message": "\(text)"])
                }
                var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
                buffer.writeString(text)
                context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
                wrote = true
            case .close(let code, let reason):
                done = true
                logger.info("closing speech-to-text socket", metadata: ["code": "\(code)", "reason": "\(reason)"])
                var data = context.channel.allocator.buffer(capacity: 2 + ElevenLabsEmulatorProtocol.maxCloseReasonBytes)
                data.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: code))
                data.writeString(ElevenLabsEmulatorProtocol.wireReason(reason))
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
                wrote = false
                // Wait for the client's close frame, but not forever.
                closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) {
                    context.close(promise: nil)
                }
            case .drop:
                done = true
                logger.info("dropping speech-to-text socket (fault injection)")
                if wrote { context.flush() }
                context.close(promise: nil)
                wrote = false
            }
        }
        if wrote { context.flush() }
        armTimer()
    }

    private func armTimer() {
        guard let context else { return }
        wakeUp.arm(done ? nil : session.nextDeadline, on: context.eventLoop) { [self] deadline in
            wakeUp.fired()
            carryOut(now: max(.now(), deadline))
        }
    }

    private func stopTimers() {
        wakeUp.cancel()
    }
}
