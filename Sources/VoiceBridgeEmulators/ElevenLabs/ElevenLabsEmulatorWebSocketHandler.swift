import Logging
import NIOCore
import NIOWebSocket
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// One text-to-speech WebSocket: carries out what `ElevenLabsEmulatorSession` decides, runs the
/// generations (one at a time per context, contexts in parallel), and sends the audio.
///
/// Everything here runs on the socket's event loop.
final class ElevenLabsEmulatorWebSocketHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    struct Setup {
        var session: ElevenLabsEmulatorSession
        var recordID: Int
        var recorder: ElevenLabsEmulatorRecorder
        var speech: any SpeechSource
        var format: ElevenLabsEmulatorOutputFormat
        var timing: ElevenLabsEmulatorGeneration.Timing
        var language: String?
        var logger: Logger
    }

    /// The generations of one context incarnation: at most one speaking, the rest waiting.
    private struct Queue {
        var contextID: String?
        var waiting: [String] = []
        var running: ElevenLabsEmulatorGeneration?
    }

    private var session: ElevenLabsEmulatorSession
    private let recordID: Int
    private let recorder: ElevenLabsEmulatorRecorder
    private let speech: any SpeechSource
    private let format: ElevenLabsEmulatorOutputFormat
    private let timing: ElevenLabsEmulatorGeneration.Timing
    private let language: String?
    private let logger: Logger
    private var queues: [Int: Queue] = [:]
    private var context: ChannelHandlerContext?
    private var wakeUp = EmulatorWakeUp()
    private var slotTimers: [Scheduled<Void>] = []
    private var closeTimer: Scheduled<Void>?
    private var disconnectTimer: Scheduled<Void>?
    /// A close frame went out: nothing more is sent.
    private var sentClose = false
    private var sentAudio = false
    private var turnCounter = 0

    init(_ setup: Setup) {
        session = setup.session
        recordID = setup.recordID
        recorder = setup.recorder
        speech = setup.speech
        format = setup.format
        timing = setup.timing
        language = setup.language
        logger = setup.logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        perform(session.start())
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopEverything()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopEverything()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("websocket error", metadata: ["error": "\(error)"])
        stopEverything()
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            guard !sentClose else { return }
            let text = String(buffer: frame.unmaskedData)
            recorder.message(recordID, text)
            perform(session.receive(text: text, now: .now()))
        case .ping:
            guard !sentClose else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            if sentClose {
                context.close(promise: nil)
                return
            }
            // The client closes first: answer with its code and stop.
            sentClose = true
            stopEverything()
            EmulatorCloseEcho.answer(frame, context: context)
        default:
            break
        }
    }

    // MARK: - Actions

    private func perform(_ actions: [ElevenLabsEmulatorSession.Action]) {
        for action in actions {
            guard !sentClose else { return }
            switch action {
            case .generate(let instance, let contextID, let text):
                queues[instance, default: Queue(contextID: contextID)].waiting.append(text)
                if queues[instance]?.running == nil { startNext(instance) }
            case .send(let text):
                if text.hasPrefix("{\"isFinal\":true") { recorder.finalSent() }
                sendText(text)
            case .close(let code, let reason):
                sendClose(code: code, reason: reason)
            case .freeSlot(let instance, let delay):
                guard let context else { continue }
                slotTimers.append(context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
                    session.slotFreed(instance: instance)
                })
            }
        }
        armTimer()
    }

    private func startNext(_ instance: Int) {
        guard let context, var queue = queues[instance], !queue.waiting.isEmpty else { return }
        let text = queue.waiting.removeFirst()
        turnCounter += 1
        let generation = ElevenLabsEmulatorGeneration(
            text: text,
            speech: speech,
            turnOptions: TurnOptions(id: "elevenlabs-emulator-\(recordID)-\(turnCounter)", language: language),
            format: format,
            timing: timing,
            eventLoop: context.eventLoop
        )
        queue.running = generation
        queues[instance] = queue
        recorder.generationStarted()
        let contextID = queue.contextID
        generation.start(
            onOutput: { [self] output in sendAudio(output, contextID: contextID) },
            onFinish: { [self] error in generationFinished(instance, error: error) }
        )
    }

    private func generationFinished(_ instance: Int, error: (any Error)?) {
        queues[instance]?.running = nil
        if let error {
            logger.warning("voice failed", metadata: ["error": "\(error)"])
            sendClose(code: ElevenLabsEmulatorProtocol.policyViolation, reason: ElevenLabsEmulatorProtocol.genericErrorReason)
            return
        }
        if queues[instance]?.waiting.isEmpty ?? true { queues[instance] = nil } else { startNext(instance) }
        perform(session.generationFinished(instance: instance))
    }

    // MARK: - Output

    private func sendAudio(_ output: ElevenLabsEmulatorGeneration.Output, contextID: String?) {
        guard !sentClose, !output.audio.isEmpty else { return }
        let message = ElevenLabsEmulatorProtocol.audioMessage(
            audioBase64: Base64Fast.encode(output.audio),
            alignment: output.piece.alignment,
            contextID: contextID
        )
        sendText(message)
        recorder.audioSent(recordID, bytes: output.audio.count)
        if !sentAudio {
            sentAudio = true
            armDisconnect()
        }
    }

    private func sendText(_ text: String) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
    }

    private func sendClose(code: Int, reason: String) {
        guard let context, !sentClose else { return }
        sentClose = true
        stopEverything()
        recorder.closed(recordID, code: code, reason: reason)
        logger.info("closing websocket", metadata: ["code": "\(code)", "reason": "\(reason)"])
        var data = context.channel.allocator.buffer(capacity: 2 + ElevenLabsEmulatorProtocol.maxCloseReasonBytes)
        data.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: code))
        data.writeString(ElevenLabsEmulatorProtocol.wireReason(reason))
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        // Wait for the client's close frame, but not forever.
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) {
            context.close(promise: nil)
        }
    }

    /// Fault injection: drop the TCP connection a while after the first audio, with no close frame.
    private func armDisconnect() {
        guard let context, let after = recorder.faults.disconnectAfterMs, recorder.takeDisconnect() else { return }
        disconnectTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(after))) { [self] in
            guard !sentClose else { return }
            sentClose = true
            logger.info("dropping websocket (fault injection)")
            recorder.disconnected(recordID)
            stopEverything()
            context.close(promise: nil)
        }
    }

    // MARK: - Timers

    private func armTimer() {
        guard let context else { return }
        wakeUp.arm(sentClose ? nil : session.nextDeadline, on: context.eventLoop) { [self] _ in
            wakeUp.fired()
            perform(session.tick(now: .now()))
        }
    }

    private func stopEverything() {
        for queue in queues.values { queue.running?.cancel() }
        queues.removeAll()
        wakeUp.cancel()
        for slot in slotTimers { slot.cancel() }
        slotTimers.removeAll()
        disconnectTimer?.cancel()
        disconnectTimer = nil
    }
}
