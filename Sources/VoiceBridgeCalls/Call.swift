import Logging
import NIOCore
import VoiceBridgeAudio
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// One phone call, confined to one event loop: its state, queue and timer live there, with no
/// locks and no hop per frame. Time comes from `eventLoop.now` and timers from
/// `scheduleCallback`, so an `EmbeddedEventLoop` drives it on virtual time in tests and replays.
public final class Call: CallControl {
    public enum Phase: Equatable { case awaitingStart, settingUp, active, ended }

    public let eventLoop: any EventLoop
    public let configuration: CallConfiguration
    public private(set) var phase: Phase = .awaitingStart
    public private(set) var callID = ""
    public private(set) var streamID = ""
    public private(set) var accountID = ""
    public private(set) var parameters: [String: String]
    public private(set) var logger: Logger
    public private(set) var endReason: CallEndReason?
    /// The stream's audio format, from its start: what every frame out is and every frame in.
    public private(set) var mediaFormat: MediaFormat = .mulaw8kMono
    /// One message of audio out: the configured 20 ms unless the carrier wants larger ones.
    private var frameMs: Int
    private var leadMs: Int

    private let sink: any CarrierSink
    private let speech: any SpeechSource
    private let flow: any CallFlow
    private let transcription: (any TranscriberProvider)?
    private var transcriber: (any CallTranscriber)?
    private var listening: ListenRequest?
    /// Speech-to-text failed for good (key, quota, refused settings): the rest of the call goes
    /// without it, so the failure is reported and counted once, not at every menu that listens.
    private var hearingFailed = false
    private var tap: TranscriptionTap?
    // Strong: observers never point back at the call, and a weak load per frame shows in profiles.
    private let observer: (any CallObserver)?

    private let listener: CallListener
    /// Set only while a console page watches (see `CallMeter`): the frame paths test it for nil.
    public var meter: CallMeter?
    private var clock: PlayoutClock
    public private(set) var ledger = MarkLedger()
    private var dedupe = DTMFDeduplicator()

    private var queue: [QueuedPrompt] = []
    private var prompts: [String: PromptInfo] = [:]  // by turn id, until the prompt is done
    /// Every synthesised turn, for what its speech cost; the heard part of each interrupted one,
    /// and the turns whose last mark came back (heard whole).
    private var billedTurns: [(turnID: String, turn: any SpeechTurn, voice: String)] = []
    private var heardCharacters: [String: Int] = [:]
    private var heardWhole: Set<String> = []
    private var droppedTurns: Set<String> = []
    /// The cost of turns that can no longer change (heard whole, or cut and gone from the
    /// queue): folded here so a call that talks for hours keeps no record per turn (the soak
    /// benchmark's held calls grew by every turn they spoke).
    private var settledCost = SpeechCost()
    /// The configured barge-in policy, or what the flow set for this call (a relay session's
    /// `interruptSensitivity` and `ignoreBackchannel`).
    public private(set) lazy var bargeIn: BargeInPolicy = configuration.bargeIn
    private var turnCounter = 0
    /// The playout tick this call waits for on its loop's wheel; nil while idle.
    private var wheelDeadline: Int64?
    private let wheel: PlayoutWheel
    private var timers: [String: NIOScheduledCallback] = [:]
    private var lastFrameAt: Int64?
    private var utteranceStart: Int64?
    private var pendingEnd: CallEndReason?
    private var hangUpTimer: NIOScheduledCallback?
    private var inputDeferred = false
    private var heldInput: [HeldInput] = []
    private var heldInputBytes = 0
    private var speechOnsetNanos: Int64?
    /// Onset of speech the detector confirmed while a prompt plays but which is still shorter
    /// than the barge-in minimum: the decision (and the flow's news of it) waits until the speech
    /// has lasted that long, and a blip that stops first is rejected as too short.
    private var speechAwaitingMinimum: Int64?
    private var speechAnnounced = false
    /// Prompts whose first frame went out during this pump; the flow hears of them after it,
    /// so a flow reacting with `play` never re-enters the send loop.
    private var startedPrompts: [PromptID] = []

    public init(
        eventLoop: any EventLoop,
        configuration: CallConfiguration = .init(),
        sink: any CarrierSink,
        speech: any SpeechSource,
        flow: any CallFlow,
        parameters: [String: String] = [:],
        observer: (any CallObserver)? = nil,
        transcription: (any TranscriberProvider)? = nil,
        logger: Logger = Logger(label: "voicebridge.call")
    ) {
        self.transcription = transcription
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.sink = sink
        self.speech = speech
        self.flow = flow
        self.parameters = parameters
        self.observer = observer
        self.logger = logger
        self.listener = CallListener(speech: configuration.speechDetector)
        self.frameMs = configuration.frameMs
        self.leadMs = configuration.leadMs
        self.clock = PlayoutClock(origin: eventLoop.now.uptimeNanoseconds.int64, frameMs: configuration.frameMs, leadMs: configuration.leadMs)
        self.wheel = PlayoutWheel.shared(on: eventLoop)
    }

    private var now: Int64 { eventLoop.now.uptimeNanoseconds.int64 }

    public var isPlaying: Bool { !queue.isEmpty || clock.depth(at: now) > 0 }
    /// Whether speech-to-text hears the caller now.
    public var isTranscribing: Bool { transcriber != nil }

    /// Where the call's frames go (for tests).
    var sinkForTests: any CarrierSink { sink }

    /// The playout clock, for inspection by tests and metrics.
    public var playout: PlayoutClock { clock }

    // MARK: - Carrier input

    /// Handles one decoded carrier message. Protocol violations end this call only.
    public func receive(_ event: CarrierEvent) {
        eventLoop.preconditionInEventLoop()
        guard phase != .ended else { return }
        switch event {
        case .connected:
            break
        case let .start(start):
            guard phase == .awaitingStart else { return fail("second start message") }
            begin(start)
        case let .media(media):
            guard phase != .awaitingStart else { return fail("media before start") }
            media.payload.withUnsafeReadableBytes { receiveAudio($0) }
        case let .dtmf(press):
            guard phase != .awaitingStart else { return fail("dtmf before start") }
            if inputDeferred { return hold(.digit(press.digit)) }
            receiveDigit(press.digit, from: .carrier)
        case let .mark(echo):
            receiveMarkEcho(echo.name)
        case .stop:
            end(.carrierStop)
        case let .notice(notice):
            observer?.error(kind: "carrier_\(notice.kind)")
            logger.warning("carrier notice", metadata: ["kind": "\(notice.kind)", "detail": "\(notice.detail)"])
        }
    }

    /// Caller audio: the hot path. No allocation, no JSON, no hop.
    public func receiveAudio(_ payload: UnsafeRawBufferPointer) {
        guard phase == .active || phase == .settingUp else { return }
        if inputDeferred { return hold(.audio(Array(payload))) }
        if let meter { meter.inbound(payload, format: mediaFormat) }
        listener.process(payload) { event in
            switch event {
            case let .digit(d):
                receiveDigit(d, from: .inBand)
            case let .speechStarted(onsetMs, confirmedMs):
                receiveSpeechStart(heardForMs: confirmedMs - onsetMs)
            case let .speechStopped(atMs):
                // The bridge's own detector ends the turn: a manual commit is faster and surer
                // than the service's VAD (elevenlabs-stt.md §3.3).
                transcriber?.commit()
                let duration = speechOnsetNanos.map { Int((now - $0) / 1_000_000) } ?? atMs
                speechOnsetNanos = nil
                if let onset = speechAwaitingMinimum {
                    speechAwaitingMinimum = nil
                    observer?.bargeIn(latencyNanos: now - onset, accepted: false, reason: BargeInPolicy.Reason.tooShort.rawValue)
                    logger.debug("barge-in rejected", metadata: ["reason": "\(BargeInPolicy.Reason.tooShort.rawValue)"])
                } else if speechAnnounced {
                    speechAnnounced = false
                    flow.handle(.callerSpeechStopped(durationMs: duration), self)
                }
            }
        }
        if let transcriber {
            tap?.forward(payload, to: transcriber)
            if !listener.isCallerSpeaking { transcriber.callerIsQuiet() }
        }
        if let onset = speechAwaitingMinimum, let voicedMs = listener.voicedMs,
            voicedMs >= bargeIn.minSpeechMs || !isPlaying
        {
            speechAwaitingMinimum = nil
            announceSpeech(onset: onset, heardForMs: voicedMs)
        }
    }

    /// The socket closed (either side). Idempotent, like every end signal.
    public func socketClosed() {
        if eventLoop.inEventLoop { end(.socketClosed) } else {
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            eventLoop.execute { bound.value.end(.socketClosed) }
        }
    }

    /// A status callback said the call is over (`completed`, `busy`, `failed`, ...).
    public func statusCallback(_ status: String) {
        end(.statusCallback(status))
    }

    /// The server is shutting down and the call's drain time is up: whatever was playing stops,
    /// the caller hears the goodbye whole (not interruptible; what the flow asks for from now on
    /// is ignored), and the call hangs up once its mark is back. A call already ending carries on.
    public func shutdown() {
        guard phase != .ended, pendingEnd == nil else { return }
        guard phase == .active else { return end(.drained) }
        for (_, t) in timers { t.cancel() }
        timers.removeAll()
        if let goodbye = configuration.drainGoodbye, !goodbye.isEmpty {
            stopSpeaking()
            play(.text(goodbye), id: Self.drainGoodbyeID, interruptible: .none)
        }
        logger.info("server draining: saying goodbye")
        requestEnd(.drained)
    }

    /// The prompt id of the drain goodbye, in events and recordings.
    public static let drainGoodbyeID: PromptID = "drain-goodbye"

    private func begin(_ start: StreamStart) {
        streamID = start.streamID
        callID = start.callID
        accountID = start.accountID
        mediaFormat = start.mediaFormat
        guard listener.listen(to: mediaFormat) else { return fail("unsupported media format \(mediaFormat)") }
        // A carrier that wants larger messages (Exotel: at least 3,200 bytes) gets whole multiples
        // of the frame, and a lead of one more, so its buffer never runs dry between them.
        if sink.minimumMediaBytes > mediaFormat.bytes(milliseconds: configuration.frameMs) {
            let frame = mediaFormat.bytes(milliseconds: configuration.frameMs)
            frameMs = (sink.minimumMediaBytes + frame - 1) / frame * configuration.frameMs
            leadMs = configuration.leadMs + frameMs
        }
        for (k, v) in start.customParameters where parameters[k] == nil { parameters[k] = v }
        logger[metadataKey: "callID"] = "\(callID)"
        logger[metadataKey: "streamID"] = "\(streamID)"
        // The grid is anchored once, at start, and never moved. It starts on a whole millisecond
        // so the calls of one event loop share at most 20 phases and one wake-up serves many
        // ticks; the first audio of a prompt still goes out at once, off the grid.
        let ms: Int64 = 1_000_000
        clock = PlayoutClock(origin: (now + ms - 1) / ms * ms, frameMs: frameMs, leadMs: leadMs)
        phase = .settingUp
        observer?.callStarted()
        logger.info("call started")
        flow.start(self)
        if phase == .settingUp { phase = .active }
    }

    private func fail(_ reason: String) {
        logger.warning("protocol error, closing call", metadata: ["reason": "\(reason)"])
        observer?.error(kind: "protocol")
        end(.protocolError(reason))
    }

    // MARK: - Input deferral (a flow still setting up)

    private enum HeldInput { case audio([UInt8]), digit(Character) }

    /// A flow that sets up asynchronously (an app socket, a webhook) holds caller input until it
    /// is ready, so the caller's first words and keys are not lost.
    public func deferInput() { inputDeferred = true }

    // MARK: - Listening

    @discardableResult
    public func listen(_ request: ListenRequest) -> Bool {
        eventLoop.preconditionInEventLoop()
        guard phase != .ended, !hearingFailed, let transcription else { return false }
        if listening == request, transcriber != nil { return true }
        if tap?.source != mediaFormat { tap = TranscriptionTap(mediaFormat) }
        guard let tap else {
            logger.warning("speech-to-text can't take this stream's audio", metadata: ["format": "\(mediaFormat)"])
            return false
        }
        transcriber?.stop()
        listening = request
        listener.setEndOfSpeechSilence(ms: request.endOfSpeechSilenceMs)
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let made = transcription.makeTranscriber(request, format: tap.format, on: eventLoop) { event in
            bound.value.transcriberEvent(event)
        }
        transcriber = made
        made.start()
        return true
    }

    public func setSpeechInterruption(_ evidence: BargeInPolicy.Evidence, ignoreBackchannel: Bool) {
        bargeIn.evidence = evidence
        bargeIn.ignoreBackchannel = ignoreBackchannel
    }

    public func stopListening() {
        transcriber?.stop()
        transcriber = nil
        listening = nil
        listener.setEndOfSpeechSilence(ms: nil)
    }

    /// With words as the evidence, the caller's words (not the detector's onset) interrupt.
    private func bargeInByWords(_ text: String) {
        guard case .words = bargeIn.evidence, isPlaying else { return }
        let words = SpokenWords.words(text)
        guard !words.isEmpty else { return }
        let interrupted = tryBargeIn(.words(words), onset: speechOnsetNanos ?? now)
        if interrupted { logger.debug("barge-in by words", metadata: ["words": "\(words.count)"]) }
    }

    private func transcriberEvent(_ event: RealtimeTranscriber.Event) {
        guard phase != .ended, transcriber != nil else { return }
        switch event {
        case .started:
            break
        case let .partial(text):
            bargeInByWords(text)
            flow.handle(.transcript(.partial(text)), self)
        case let .committed(commit):
            bargeInByWords(commit.text)
            flow.handle(.transcript(.committed(commit)), self)
        case .commitIgnored:
            flow.handle(.transcript(.commitIgnored), self)
        case let .trouble(error):
            observer?.error(kind: "stt_\(error.kind.rawValue)")
            logger.warning("speech-to-text trouble; reconnecting", metadata: ["error": "\(error)"])
        case let .failed(error):
            observer?.error(kind: "stt_\(error.kind.rawValue)")
            logger.error("speech-to-text stopped for this call", metadata: ["error": "\(error)"])
            transcriber = nil
            listening = nil
            hearingFailed = true
            flow.handle(.transcript(.unavailable(error.description)), self)
        }
    }

    public func resumeInput() {
        guard inputDeferred else { return }
        inputDeferred = false
        let held = heldInput
        heldInput = []
        heldInputBytes = 0
        for item in held where phase != .ended {
            switch item {
            case let .audio(bytes): bytes.withUnsafeBytes { receiveAudio($0) }
            case let .digit(d): receiveDigit(d, from: .carrier)
            }
        }
    }

    private func hold(_ item: HeldInput) {
        if case let .audio(bytes) = item {
            heldInputBytes += bytes.count
            // Bounded: beyond the window, the oldest audio goes first.
            while heldInputBytes > mediaFormat.bytes(milliseconds: configuration.setupBufferMs), let i = heldInput.firstIndex(where: { if case .audio = $0 { true } else { false } }) {
                if case let .audio(old) = heldInput.remove(at: i) { heldInputBytes -= old.count }
            }
        }
        heldInput.append(item)
    }

    // MARK: - Caller events and barge-in

    private func receiveDigit(_ digit: Character, from source: DTMFDeduplicator.Source) {
        guard dedupe.accept(digit, from: source, at: now) else { return }
        let interrupted = tryBargeIn(.dtmf(digit), onset: now)
        flow.handle(.digit(digit, interrupted: interrupted), self)
    }

    private func receiveSpeechStart(heardForMs: Int) {
        let onset = now - Int64(heardForMs) * 1_000_000
        speechOnsetNanos = onset
        if heardForMs < bargeIn.minSpeechMs, isPlaying {
            speechAwaitingMinimum = onset
            return
        }
        announceSpeech(onset: onset, heardForMs: heardForMs)
    }

    private func announceSpeech(onset: Int64, heardForMs: Int) {
        speechAnnounced = true
        let interrupted = tryBargeIn(.speech(onsetNanos: onset, durationMs: heardForMs), onset: onset)
        flow.handle(.callerSpeechStarted(interrupted: interrupted), self)
    }

    /// Applies the policy; on accept, flushes in the documented order.
    private func tryBargeIn(_ input: BargeInPolicy.Input, onset: Int64) -> Bool {
        let t = now
        let audible = audiblePrompt(at: t)
        let verdict = bargeIn.evaluate(
            input,
            interruptible: audible?.interruptible ?? .none,
            playing: isPlaying,
            utteranceStartNanos: utteranceStart,
            transcribing: transcriber != nil
        )
        switch verdict {
        case .accept:
            flushPlayout(interruptedTurn: audible?.turnID)
            observer?.bargeIn(latencyNanos: now - onset, accepted: true, reason: "accepted")
            logger.info("barge-in accepted", metadata: ["input": "\(input)"])
            return true
        case let .reject(reason):
            if reason != .nothingPlaying {
                observer?.bargeIn(latencyNanos: now - onset, accepted: false, reason: reason.rawValue)
                logger.debug("barge-in rejected", metadata: ["reason": "\(reason.rawValue)"])
            }
            return false
        }
    }

    private func audiblePrompt(at t: Int64) -> PromptInfo? {
        let played = clock.played(at: t)
        // Index loops here and in the pump: a debug build allocates a frame for each generic
        // `first(where:)`-style read, and the allocation test runs in a debug build.
        let segments = ledger.segments
        var i = 0
        while i < segments.count {
            let s = segments[i]
            if (s.endNanos ?? Int64.max) > played && s.state != .cleared {
                if let info = prompts[s.turnID] { return info }
                break
            }
            i += 1
        }
        return queue.isEmpty ? nil : prompts[queue[0].turnID]
    }

    /// 1. drop the local queue, 2. `clear`, 3. cancel upstream, 4. drop late chunks by turn id,
    /// 5. tell the flow what was heard.
    private func flushPlayout(interruptedTurn: String?) {
        let t = now
        let playedPosition = clock.played(at: t)
        let dropped = queue
        queue.removeAll(keepingCapacity: true)
        sink.sendClear()
        for prompt in dropped {
            prompt.turn?.cancel()
            droppedTurns.insert(prompt.turnID)
        }
        sink.flush()
        let heard = ledger.recordClear(playedPosition: playedPosition, turnID: interruptedTurn)
        if !sink.echoesMarksOnClear {
            // No echo will come for the marks the clear dropped: they are settled now.
            for segment in ledger.resolveCleared() { prompts[segment.turnID] = nil }
        }
        clock.recordClear(at: t)
        stopTicking()
        lastFrameAt = nil
        utteranceStart = nil
        var notified: Set<String> = []
        if let turn = interruptedTurn { heardCharacters[turn] = heard.text.count }
        for prompt in dropped where heardCharacters[prompt.turnID] == nil { heardCharacters[prompt.turnID] = 0 }
        if let turn = interruptedTurn, let info = prompts[turn] {
            notified.insert(turn)
            flow.handle(.promptInterrupted(info.id, heard: heard), self)
        }
        for prompt in dropped where !notified.contains(prompt.turnID) {
            if let info = prompts[prompt.turnID] {
                flow.handle(.promptInterrupted(info.id, heard: .init(completeSegments: [], interruptedSegment: nil, interruptedText: "", interruptedMs: 0)), self)
            }
        }
        // Prompts whose marks are still out stay known until their (cleared) echo returns.
        for prompt in dropped where !ledger.segments.contains(where: { $0.turnID == prompt.turnID }) {
            prompts[prompt.turnID] = nil
        }
        settleTurns()
        // Where no echo is coming, an end waiting for the last mark can go now.
        if !sink.echoesMarksOnClear { checkPendingEnd() }
    }

    // MARK: - Marks

    private func receiveMarkEcho(_ name: String) {
        switch ledger.echo(name: name) {
        case let .played(segment):
            clock.recordMarkPlayed(position: segment.endNanos ?? clock.sentNanos, at: now)
            heardWhole.insert(segment.turnID)
            settleTurns()
            if let info = prompts.removeValue(forKey: segment.turnID) {
                flow.handle(.promptFinished(info.id), self)
            }
        case let .cleared(segment):
            prompts[segment.turnID] = nil
        case .unknown:
            logger.debug("mark echo not in ledger", metadata: ["mark": "\(name)"])
        }
        checkPendingEnd()
    }

    // MARK: - CallControl

    public func play(_ content: PromptContent, id: PromptID, interruptible: Interruptible) {
        play(content, id: id, interruptible: interruptible, voice: nil)
    }

    public func play(_ content: PromptContent, id: PromptID, interruptible: Interruptible, voice: String?) {
        guard phase != .ended, pendingEnd == nil else { return }
        let turnID = nextTurnID()
        var prompt = QueuedPrompt(turnID: turnID, reframer: newReframer(), requestedAt: now)
        prompts[turnID] = PromptInfo(id: id, turnID: turnID, interruptible: interruptible)
        switch content {
        case let .audio(ulaw, text):
            prompt.text = text
            // Built prompts and tones are μ-law 8 kHz; another stream format gets them converted.
            var bytes = ulaw
            if mediaFormat != .mulaw8kMono {
                let converter = SpeechAudioConverter(target: mediaFormat)
                bytes = ((try? converter.convert(ulaw, from: .mulaw8kMono)) ?? []) + converter.finish()
            }
            prompt.reframer.append(bytes)
            prompt.pendingAlignments.append((0, nil, mediaFormat.nanoseconds(ofBytes: bytes.count)))
            prompt.reframer.finish()
            prompt.inputDone = true
            queue.append(prompt)
        case let .text(text):
            prompt.text = text
            var options = turnOptions(turnID)
            if let voice { options.voice = voice }
            let turn = speech.speak(text, options: options)
            prompt.turn = turn
            billedTurns.append((turnID, turn, speech.voiceName(for: options)))
            queue.append(prompt)
            consume(turn)
        }
        pump()
    }

    public func startStreamedPrompt(id: PromptID, interruptible: Interruptible) -> any StreamedPrompt {
        let turnID = nextTurnID()
        let options = turnOptions(turnID)
        let turn = speech.startTurn(options)
        billedTurns.append((turnID, turn, speech.voiceName(for: options)))
        if phase != .ended, pendingEnd == nil {
            var prompt = QueuedPrompt(turnID: turnID, reframer: newReframer(), requestedAt: now)
            prompt.turn = turn
            prompt.streamed = true
            prompts[turnID] = PromptInfo(id: id, turnID: turnID, interruptible: interruptible)
            queue.append(prompt)
            consume(turn)
        } else {
            turn.cancel()
        }
        return StreamedTurnHandle(turn: turn, call: NIOLoopBound(self, eventLoop: eventLoop))
    }

    /// Frames of the stream's format, padded with its silence.
    private func newReframer() -> Reframer {
        Reframer(frameSize: mediaFormat.bytes(milliseconds: frameMs), padding: mediaFormat.silenceByte)
    }

    public func stopSpeaking() {
        guard isPlaying else { return }
        flushPlayout(interruptedTurn: audiblePrompt(at: now)?.turnID)
    }

    public func setTimer(_ name: String, afterMs: Int) {
        cancelTimer(name)
        let deadline = NIODeadline.uptimeNanoseconds(UInt64(now + Int64(afterMs) * 1_000_000))
        timers[name] = try? eventLoop.scheduleCallback(at: deadline, handler: TimerHandler(call: NIOLoopBound(self, eventLoop: eventLoop), name: name))
    }

    public func cancelTimer(_ name: String) {
        timers.removeValue(forKey: name)?.cancel()
    }

    public func hangUp() { requestEnd(.hangUp) }
    public func redirect() { requestEnd(.redirect) }

    public func transfer(to destination: CallTransfer) {
        // Once an end is on its way, the call's destination is settled.
        guard phase != .ended, pendingEnd == nil else { return }
        sink.transfer(to: destination)
        redirect()
    }

    private func requestEnd(_ reason: CallEndReason) {
        guard phase != .ended, pendingEnd == nil else { return }
        pendingEnd = reason
        logger.info("ending once the last mark is back", metadata: ["reason": "\(reason)"])
        checkPendingEnd()
    }

    /// Ends the call when nothing is queued and every mark is back; arms a timeout once the last
    /// frame is out, so a lost echo cannot hold the call open forever.
    private func checkPendingEnd() {
        guard let reason = pendingEnd, phase != .ended else { return }
        if queue.isEmpty && ledger.awaitingEchoCount == 0 {
            return end(reason)
        }
        if queue.isEmpty && hangUpTimer == nil {
            let wait = clock.depth(at: now) + Int64(configuration.hangUpGraceMs) * 1_000_000
            let deadline = NIODeadline.uptimeNanoseconds(UInt64(now + wait))
            hangUpTimer = try? eventLoop.scheduleCallback(at: deadline, handler: TimerHandler(call: NIOLoopBound(self, eventLoop: eventLoop), name: TimerHandler.hangUpTimeout))
        }
    }

    fileprivate func timerFired(_ name: String) {
        guard phase != .ended else { return }
        if name == TimerHandler.hangUpTimeout {
            logger.warning("goodbye mark did not come back in time; closing anyway")
            observer?.error(kind: "mark_timeout")
            if let reason = pendingEnd { end(reason) }
            return
        }
        timers[name] = nil
        flow.handle(.timer(name), self)
    }

    /// What the call's speech cost so far, by voice: each turn's characters sent, and of them,
    /// those heard.
    public var speechCost: SpeechCost {
        var cost = settledCost
        for (turnID, turn, voice) in billedTurns {
            cost.byVoice[voice, default: SpeechCharacters()] += characters(turnID, turn)
        }
        return cost
    }

    private func characters(_ turnID: String, _ turn: any SpeechTurn) -> SpeechCharacters {
        let sent = turn.charactersSent
        let heard = heardWhole.contains(turnID) ? sent : min(sent, heardCharacters[turnID] ?? 0)
        return SpeechCharacters(sent: sent, heard: heard)
    }

    /// Folds the turns whose cost is final into `settledCost` and forgets them: heard whole, or
    /// cut with their heard part known, and out of the queue (nothing more is synthesised).
    private func settleTurns() {
        guard !billedTurns.isEmpty else { return }
        billedTurns.removeAll { entry in
            let id = entry.turnID
            guard heardWhole.contains(id) || heardCharacters[id] != nil, !queue.contains(where: { $0.turnID == id }) else { return false }
            settledCost.byVoice[entry.voice, default: SpeechCharacters()] += characters(id, entry.turn)
            heardWhole.remove(id)
            heardCharacters[id] = nil
            droppedTurns.remove(id)
            return true
        }
    }

    /// The one place a call ends. Every end signal comes here; only the first counts.
    public func end(_ reason: CallEndReason) {
        guard phase != .ended else { return }
        phase = .ended
        endReason = reason
        stopTicking()
        hangUpTimer?.cancel()
        for (_, t) in timers { t.cancel() }
        timers.removeAll()
        for prompt in queue { prompt.turn?.cancel() }
        queue.removeAll()
        heldInput.removeAll()
        stopListening()
        let cost = speechCost
        let characters = cost.total
        logger.info("call ended", metadata: [
            "reason": "\(reason)", "charactersSent": "\(characters.sent)", "charactersHeard": "\(characters.heard)",
            "charactersWasted": "\(characters.wasted)",
        ])
        observer?.speechCost(cost)
        observer?.callEnded(reason)
        flow.handle(.ended(reason), self)
        if reason != .socketClosed { sink.close(reason) }
    }

    // MARK: - Speech

    private func nextTurnID() -> String {
        turnCounter += 1
        return "\(turnCounter)"
    }

    private func turnOptions(_ turnID: String) -> TurnOptions {
        TurnOptions(id: turnID, voice: configuration.voice, model: configuration.model, language: configuration.language)
    }

    /// Takes a turn's audio on this loop: straight from a source whose socket lives here, one
    /// hop per chunk from one that produces on another thread, never a task in between.
    private func consume(_ turn: any SpeechTurn) {
        let turnID = turn.id
        turn.deliver(on: eventLoop) { [self] delivery in
            switch delivery {
            case let .chunk(chunk): speechChunk(chunk, turnID: turnID)
            case .finished: speechFinished(turnID: turnID, error: nil)
            case let .failed(error): speechFinished(turnID: turnID, error: error)
            }
        }
    }

    /// Hands audio to the queue. Late chunks of a flushed turn are dropped here, by id.
    public func speechChunk(_ chunk: SpeechChunk, turnID: String) {
        guard phase != .ended, !droppedTurns.contains(turnID), chunk.turnID == turnID || chunk.turnID.isEmpty else { return }
        guard let i = queue.firstIndex(where: { $0.turnID == turnID }) else { return }
        var audio = chunk.audio
        if chunk.format != mediaFormat || queue[i].converter != nil {
            let converter = queue[i].converter ?? SpeechAudioConverter(target: mediaFormat)
            queue[i].converter = converter
            do {
                audio = try converter.convert(chunk.audio, from: chunk.format)
            } catch {
                return speechFinished(turnID: turnID, error: error)
            }
        }
        queue[i].reframer.append(audio)
        let nanos = mediaFormat.nanoseconds(ofBytes: audio.count)
        // Streamed turns learn their text from the alignment as it is spoken.
        if let a = chunk.alignment, queue[i].streamed { queue[i].text += a.chars.joined() }
        if queue[i].begun {
            ledger.addAudio(nanos: nanos, alignment: chunk.alignment, text: queue[i].streamed ? queue[i].text : nil)
        } else {
            queue[i].pendingAlignments.append((queue[i].audioNanos, chunk.alignment, nanos))
        }
        queue[i].audioNanos += nanos
        pump()
    }

    public func speechFinished(turnID: String, error: (any Error)?) {
        guard phase != .ended, !droppedTurns.contains(turnID) else { return }
        guard let i = queue.firstIndex(where: { $0.turnID == turnID }) else { return }
        if let error {
            logger.error("speech failed", metadata: ["turn": "\(turnID)", "error": "\(error)"])
            observer?.error(kind: "speech")
            if let info = prompts[turnID], queue[i].audioNanos == 0 {
                queue.remove(at: i)
                prompts[turnID] = nil
                flow.handle(.promptFailed(info.id, reason: "\(error)"), self)
                return pump()
            }
        }
        if let tail = queue[i].converter?.finish(), !tail.isEmpty {
            queue[i].reframer.append(tail)
            let nanos = mediaFormat.nanoseconds(ofBytes: tail.count)
            if queue[i].begun { ledger.addAudio(nanos: nanos, alignment: nil, text: nil) } else {
                queue[i].pendingAlignments.append((queue[i].audioNanos, nil, nanos))
            }
            queue[i].audioNanos += nanos
        }
        queue[i].reframer.finish()
        queue[i].inputDone = true
        pump()
    }

    // MARK: - Playout

    /// Sends frames until the carrier's buffer holds the lead, then sleeps until the next grid
    /// tick. Sends nothing when idle and stops the timer, so an idle call costs nothing.
    ///
    /// Decisions stand for the latest grid point (see `PlayoutClock.framesWanted(at:onGrid:)`):
    /// a timer that fires a little late, or audio that arrives between ticks, sends exactly what
    /// an on-time tick would. Only when the carrier has nothing left to play does new audio fill
    /// the lead at once, off the grid: that is the caller's first-audio latency.
    private func pump() {
        guard phase == .active || phase == .settingUp else { return }
        let t = now
        if sink.isWritable {
            var wanted = clock.framesWanted(at: t, onGrid: clock.depth(at: t) > 0)
            while !queue.isEmpty {
                if queue[0].reframer.hasFrame {
                    guard wanted > 0 else { break }
                    sendFrame(at: t)
                    wanted -= 1
                } else if queue[0].inputDone {
                    finishHead()
                } else {
                    break  // waiting for the source: an underrun if it lasts
                }
            }
        }
        sink.flush()
        if queueHasFrame || (!sink.isWritable && !queue.isEmpty) {
            scheduleTick(after: t)
        } else {
            stopTicking()
        }
        if !startedPrompts.isEmpty {
            let started = startedPrompts
            startedPrompts.removeAll(keepingCapacity: true)
            for id in started where phase != .ended { flow.handle(.promptStarted(id), self) }
        }
        checkPendingEnd()
    }

    private var queueHasFrame: Bool {
        var i = 0
        while i < queue.count {
            if queue[i].reframer.hasFrame { return true }
            i += 1
        }
        return false
    }

    private func sendFrame(at t: Int64) {
        if !queue[0].begun {
            queue[0].begun = true
            let prompt = queue[0]
            ledger.beginSegment(name: "\(prompt.turnID).1", turnID: prompt.turnID, text: prompt.text, at: clock.sentNanos)
            for (_, alignment, nanos) in prompt.pendingAlignments {
                ledger.addAudio(nanos: nanos, alignment: alignment)
            }
            queue[0].pendingAlignments = []
            if utteranceStart == nil || clock.depth(at: t) == 0 { utteranceStart = t }
            // The silence the caller waited through: none when the carrier still had audio to
            // play (a seamless follow-on), else from the request or the moment playback ran dry.
            // (The grid origin may lie up to 1 ms ahead of the first prompt, hence the clamp.)
            let waited = clock.depth(at: t) > 0 ? 0 : max(0, t - max(prompt.requestedAt, clock.drainedAt))
            observer?.firstAudio(latencyNanos: waited)
            if let info = prompts[prompt.turnID] { startedPrompts.append(info.id) }
        }
        let sent: Bool? = queue[0].reframer.withNextFrame { frame in
            if let meter { meter.outbound(frame, format: mediaFormat) }
            sink.sendMedia(frame)
            return true
        }
        guard sent == true else { return }
        clock.recordFrameSent(at: t)
        observer?.frameSent(gapNanos: lastFrameAt.map { t - $0 })
        lastFrameAt = t
        if !queue[0].reframer.hasFrame && queue[0].inputDone { finishHead() }
    }

    /// The head prompt is fully sent: mark it, so its echo tells us when the caller heard the end.
    private func finishHead() {
        let prompt = queue.removeFirst()
        if prompt.begun {
            ledger.endSegment(at: clock.sentNanos)
            sink.sendMark("\(prompt.turnID).1")
        } else if let info = prompts.removeValue(forKey: prompt.turnID) {
            // Nothing to say (empty text): finished without a sound.
            flow.handle(.promptFinished(info.id), self)
        }
        if queue.isEmpty { lastFrameAt = nil }
    }

    private func scheduleTick(after t: Int64) {
        guard wheelDeadline == nil else { return }
        let deadline = clock.deadline(ofTick: clock.tick(after: t))
        wheelDeadline = deadline
        wheel.schedule(self, at: deadline)
    }

    private func stopTicking() {
        wheelDeadline = nil
    }

    /// The tick whose deadline has passed but which has not run yet (a busy loop runs it late),
    /// if any, as uptime nanoseconds: input that arrives now is handled before that tick.
    public func overdueTick(at uptime: Int64) -> Int64? {
        wheelDeadline.flatMap { $0 <= uptime ? $0 : nil }
    }

    /// The wheel's wake-up for `deadline`; stale if the call stopped or moved its tick since.
    func wheelFired(_ deadline: Int64) {
        guard wheelDeadline == deadline else { return }
        wheelDeadline = nil
        pump()
    }
}

// MARK: - Helpers

private struct QueuedPrompt {
    let turnID: String
    var reframer: Reframer
    /// Set once a chunk arrives in another format than the stream's.
    var converter: SpeechAudioConverter?
    let requestedAt: Int64
    var text = ""
    var turn: (any SpeechTurn)?
    var streamed = false
    var inputDone = false
    var begun = false
    var audioNanos: Int64 = 0
    var pendingAlignments: [(Int64, Alignment?, Int64)] = []
}

struct PromptInfo {
    let id: PromptID
    let turnID: String
    let interruptible: Interruptible
}

private struct TimerHandler: NIOScheduledCallbackHandler {
    static let hangUpTimeout = "\u{0}hangup-timeout"
    let call: NIOLoopBound<Call>
    let name: String
    func handleScheduledCallback(eventLoop: some EventLoop) { call.value.timerFired(name) }
}

private final class StreamedTurnHandle: StreamedPrompt {
    let turn: any SpeechTurn
    let call: NIOLoopBound<Call>
    init(turn: any SpeechTurn, call: NIOLoopBound<Call>) {
        self.turn = turn
        self.call = call
    }
    func send(text: String) { turn.send(text: text) }
    func finish() { turn.finish() }
}

extension UInt64 {
    var int64: Int64 { Int64(truncatingIfNeeded: self) }
}
