import Logging
import NIOCore
import VoiceBridgeCalls
import VoiceBridgeSpeech

/// The bridge as a ConversationRelay server for one session: it dials the app's WebSocket, sends
/// `setup`, turns the call's events into relay messages and the app's messages into speech,
/// tones and control of the call (doc §7).
///
/// Runs on the call's event loop, as every flow, and opens the app's socket on that loop, so app
/// messages reach the call with no hop. It works as a call's whole flow and when started mid-call
/// (a flow's `relay` step): it only ever tracks the prompts it queued itself.
///
/// Speech: each talk cycle (the `text` tokens up to `last:true`) is one streamed prompt, chunked
/// by the speech source as tokens arrive, so `tokensPlayed` reports a cycle, and
/// `utteranceUntilInterrupt` what the caller heard of it, from marks and alignment. `play` and
/// `sendDigits` join the same FIFO queue. The caller's words go to the app as `prompt` while the call listens (speech-to-text).
public final class RelayFlow: CallFlow {
    public typealias EndHandler = (RelaySessionResult, any CallControl) -> Void
    /// Loads a `play` URL as μ-law 8 kHz. Runs off the loop.
    public typealias AudioLoader = @Sendable (String) async throws -> [UInt8]

    /// What a recording's header calls a call whose whole flow is a relay session.
    public static let recordedName = "relay"

    public let configuration: RelayConfiguration
    public let sessionId: String
    /// The session's result once it is over.
    public private(set) var result: RelaySessionResult?

    private let prompts: ((String) -> [UInt8]?)?
    private let onEnd: EndHandler?
    private let connector: any RelayConnector
    private let loadAudio: AudioLoader
    private var logger: Logger

    private enum Phase { case idle, connecting, open, over }
    private var phase = Phase.idle
    private var call: (any CallControl)?
    private var transport: (any RelayTransport)?
    /// Messages produced before the socket opened (the greeting's events): sent after `setup`.
    private var outbox: [RelayOutbound] = []
    private var startedAt: NIODeadline = .uptimeNanoseconds(0)
    private var invalidRun = RelayInvalidMessageCounter()
    public private(set) var ttsLanguage: String
    public private(set) var transcriptionLanguage: String

    private enum Kind { case greeting, cycle, play, digits }
    private struct Item {
        var kind: Kind
        var text: String
        var preemptible: Bool
        var started = false
    }
    /// This session's prompts in the call's queue, by prompt id, until finished or interrupted.
    private var items: [PromptID: Item] = [:]
    private var counter = 0
    /// The talk cycle still taking tokens.
    private var cycle: (id: PromptID, prompt: any StreamedPrompt)?
    private var agentSpeaking = false
    private var preempting = false
    /// What a barge-in cut off, sent once the caller event that caused it has been reported.
    private var pendingInterrupt: (text: String, ms: Int)?
    /// The caller's turn as speech-to-text hears it (elevenlabs-stt.md §5.4): committed
    /// segments, the open segment's partial, and whether the turn has ended and waits for its
    /// last commit.
    private var hearing = false
    private var turnSegments: [String] = []
    private var turnPartial = ""
    private var turnLanguage: String?
    private var turnEnded = false
    private var lastPartialPrompt = ""
    /// The turn began while the agent spoke and did not interrupt it.
    private var turnDuringAgentSpeech = false
    static let finalTranscriptTimer = "relay.final-transcript"
    /// Tokens of an interrupted cycle still arriving are dropped until the app closes that cycle
    /// (`last:true`) or the bridge reports a later key (doc §5.3, VoiceBridge's proposal).
    private var discardingStaleCycle = false
    private var callerInterruptedAgent = false
    /// App messages that must wait behind a `play` being fetched, to keep the queue's order.
    private var heldMessages: [(RelayInbound, String)] = []
    private var fetchGeneration = 0
    private var fetching = false

    public init(
        configuration: RelayConfiguration,
        prompts: ((String) -> [UInt8]?)? = nil,
        onEnd: EndHandler? = nil,
        connector: (any RelayConnector)? = nil,
        loadAudio: @escaping AudioLoader = RelayAudio.fetch,
        sessionId: String? = nil,
        logger: Logger = Logger(label: "voicebridge.relay")
    ) {
        self.configuration = configuration
        self.prompts = prompts
        self.onEnd = onEnd
        self.connector = connector ?? RelayWebSocketClient.shared
        self.loadAudio = loadAudio
        self.logger = logger
        self.ttsLanguage = configuration.language
        self.transcriptionLanguage = configuration.transcriptionLanguage ?? configuration.language
        // A replay gives the recorded session its id again, so its `setup` matches.
        self.sessionId = sessionId ?? Self.makeSessionId()
    }

    static func makeSessionId() -> String {
        var rng = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef")
        return "VX" + String((0..<32).map { _ in hex[Int(rng.next() % 16)] })
    }

    // MARK: - CallFlow

    public func start(_ call: any CallControl) {
        guard phase == .idle else { return }
        self.call = call
        phase = .connecting
        startedAt = call.eventLoop.now
        logger[metadataKey: "relaySession"] = "\(sessionId)"
        if let greeting = configuration.welcomeGreeting, !greeting.isEmpty {
            let id = nextID()
            items[id] = Item(kind: .greeting, text: greeting, preemptible: false)
            call.play(.text(greeting), id: id, interruptible: configuration.welcomeGreetingInterruptible)
        }
        call.deferInput()
        let bound = NIOLoopBound(self, eventLoop: call.eventLoop)
        connector.connect(configuration, on: call.eventLoop, logger: logger).whenComplete { result in
            bound.value.connected(result)
        }
    }

    public func handle(_ event: FlowEvent, _ call: any CallControl) {
        guard phase == .connecting || phase == .open else { return }
        switch event {
        case let .promptStarted(id):
            guard items[id] != nil else { return }
            items[id]?.started = true
            if !agentSpeaking {
                agentSpeaking = true
                sendInfo(.speakerEvents, "agentSpeaking", "on")
            }
        case let .promptFinished(id):
            guard let item = items.removeValue(forKey: id) else { return }
            if cycle?.id == id { cycle = nil }
            if !item.text.isEmpty { sendInfo(.tokensPlayed, "tokensPlayed", item.text) }
            updateAgentSpeaking()
        case let .promptInterrupted(id, heard):
            interrupted(id, heard: heard)
        case let .promptFailed(id, reason):
            guard items.removeValue(forKey: id) != nil else { return }
            if cycle?.id == id { cycle = nil }
            send(.error(description: "speech failed: \(reason)"))
            updateAgentSpeaking()
        case let .callerSpeechStarted(interrupted):
            callerInterruptedAgent = interrupted
            if turnSegments.isEmpty && turnPartial.isEmpty { turnDuringAgentSpeech = agentSpeaking && !interrupted }
            sendInfo(.speakerEvents, "clientSpeaking", "on")
            flushInterrupt()
        case let .callerSpeechStopped(durationMs):
            flushInterrupt()
            sendInfo(.speakerEvents, "clientSpeaking", "off")
            if configuration.events.contains(.voiceBridgeTurns) {
                send(.callerTurnEnded(durationMs: durationMs, interruptedAgent: callerInterruptedAgent))
            }
            callerInterruptedAgent = false
            if hearing {
                // The call committed the segment as the detector heard the turn end; its text
                // closes the turn, or what is held goes after a while.
                turnEnded = true
                call.setTimer(Self.finalTranscriptTimer, afterMs: configuration.finalTranscriptWaitMs)
            }
        case let .transcript(transcript):
            heard(transcript, call)
        case let .digit(digit, interrupted):
            flushInterrupt()
            guard configuration.dtmfDetection else { return }
            // Keys that did not interrupt agent speech are reported only when configured (doc §5.5).
            if !interrupted && agentSpeaking && !configuration.reportInputDuringAgentSpeech.allowsDTMF { return }
            send(.dtmf(digit: String(digit)))
            // A key pressed after the interrupt starts a new turn; the key that caused it does
            // not: the app has not seen the interrupt yet and may still be streaming the old cycle.
            if !interrupted { discardingStaleCycle = false }
        case .ended:
            flushInterrupt()
            closeApp(code: 1000, reason: "Closing websocket session")
            finish(.completed)
        case let .timer(name):
            if name == Self.finalTranscriptTimer, turnEnded { finishTurn(call) }
        }
    }

    // MARK: - Hearing the caller

    /// `interruptSensitivity`/`ignoreBackchannel` as barge-in evidence; nil keeps the server's.
    private var speechEvidence: BargeInPolicy.Evidence? {
        switch configuration.interruptSensitivity?.lowercased() {
        case "low": .words(minimum: 2)
        case "medium": .words(minimum: 1)
        case "high": configuration.ignoreBackchannel ? .words(minimum: 1) : .energy
        default: configuration.ignoreBackchannel ? .words(minimum: 1) : nil
        }
    }

    private var listenRequest: ListenRequest {
        ListenRequest(
            languageCode: ScribeSettings.languageCode(bcp47: transcriptionLanguage), keyterms: configuration.hints,
            endOfSpeechSilenceMs: configuration.speechTimeoutMs)
    }

    private func heard(_ transcript: Transcript, _ call: any CallControl) {
        switch transcript {
        case let .partial(text):
            turnPartial = text
            guard configuration.partialPrompts else { return }
            let cumulative = (turnSegments + [text]).joined(separator: " ")
            guard cumulative != lastPartialPrompt, reportsTurn else { return }
            lastPartialPrompt = cumulative
            send(.prompt(voicePrompt: cumulative, lang: promptLanguage, last: false))
        case let .committed(commit):
            if !commit.text.isEmpty { turnSegments.append(commit.text) }
            if let code = commit.languageCode { turnLanguage = code }
            turnPartial = ""
            if turnEnded { finishTurn(call) }
        case .commitIgnored:
            if turnEnded { finishTurn(call) }
        case let .unavailable(reason):
            hearing = false
            send(.error(description: "speech-to-text unavailable: \(reason)"))
        }
    }

    /// Sends the turn's one `prompt{last:true}`: never an empty one (doc §7).
    private func finishTurn(_ call: any CallControl) {
        call.cancelTimer(Self.finalTranscriptTimer)
        let text = (turnSegments + (turnPartial.isEmpty ? [] : [turnPartial])).joined(separator: " ")
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        if !text.isEmpty && reportsTurn {
            send(.prompt(voicePrompt: text, lang: promptLanguage, last: true))
        }
        turnSegments = []
        turnPartial = ""
        turnEnded = false
        lastPartialPrompt = ""
        turnDuringAgentSpeech = false
    }

    /// Speech during agent speech that did not interrupt it is reported only if configured.
    private var reportsTurn: Bool { !turnDuringAgentSpeech || configuration.reportInputDuringAgentSpeech.allowsSpeech }

    /// The configured tag; under `multi`, the detected language's primary subtag (doc §1.2).
    private var promptLanguage: String {
        guard transcriptionLanguage == "multi" else { return transcriptionLanguage }
        return turnLanguage.map { Self.iso639_1($0) } ?? "multi"
    }

    private static func iso639_1(_ code: String) -> String {
        let common = ["eng": "en", "spa": "es", "fra": "fr", "deu": "de", "ita": "it", "por": "pt", "nld": "nl", "jpn": "ja", "zho": "zh", "hin": "hi"]
        return code.count == 3 ? common[code] ?? code : code
    }

    // MARK: - The app's socket

    private func connected(_ outcome: Result<any RelayTransport, any Error>) {
        switch outcome {
        case let .success(transport):
            guard phase == .connecting, let transportLoop = call?.eventLoop else {
                transport.close(code: 1000, reason: "Closing websocket session")
                return
            }
            self.transport = transport
            phase = .open
            logger.info("relay session open", metadata: ["url": "\(configuration.url)"])
            transport.send(RelayCodec.encode(.setup(makeSetup())))
            hearing = call?.listen(listenRequest) ?? false
            if hearing, let evidence = speechEvidence {
                call?.setSpeechInterruption(evidence, ignoreBackchannel: configuration.ignoreBackchannel)
            }
            if configuration.events.contains(.voiceBridgeTurns) {
                let stt = hearing ? "elevenlabs" : "none"
                transport.send(RelayCodec.encode(.capabilities("stt=\(stt);tts=\(configuration.ttsName);vad=on")))
            }
            let held = outbox
            outbox = []
            for message in held { transport.send(RelayCodec.encode(message)) }
            // Only now: an app message that arrived with the upgrade waits until setup is out.
            let bound = NIOLoopBound(self, eventLoop: transportLoop)
            transport.start { event in bound.value.transportEvent(event) }
            call?.resumeInput()
        case let .failure(error):
            guard phase == .connecting else { return }
            logger.warning("relay app unreachable", metadata: ["error": "\(error)"])
            call?.resumeInput()
            finish(.failed, errorCode: 64102, errorMessage: "Unable to connect to websocket URL: \(error)")
        }
    }

    private func makeSetup() -> RelaySetup {
        let p = call?.parameters ?? [:]
        let to = p["To"] ?? ""
        return RelaySetup(
            sessionId: sessionId, accountSid: call?.accountID ?? "", callSid: call?.callID ?? "",
            parentCallSid: p["ParentCallSid"] ?? "", from: p["From"] ?? "", to: to,
            forwardedFrom: p["ForwardedFrom"] ?? to, callerName: p["CallerName"] ?? "",
            direction: p["Direction"] ?? "inbound", callType: "PSTN", callStatus: configuration.callStatus,
            customParameters: configuration.customParameters
        )
    }

    private func transportEvent(_ event: RelayTransportEvent) {
        guard phase == .open else { return }
        switch event {
        case let .text(frame):
            receive(frame)
        case .binary:
            rejected(RelayMessageError(reason: "binary frames are not part of the protocol", frame: "<binary>"))
        case let .closed(code, reason):
            transport = nil
            logger.warning("relay app closed the socket", metadata: ["code": "\(code)", "reason": "\(reason)"])
            finish(.failed, errorCode: 64105, errorMessage: "Websocket ended (\(code))")
        }
    }

    /// One app message: validated, then acted on (or held behind a fetch, in order).
    func receive(_ frame: String) {
        let message: RelayInbound
        do {
            message = try RelayCodec.decode(frame)
        } catch {
            return rejected(error)
        }
        invalidRun.valid()
        if fetching, message.joinsPlayQueue {
            heldMessages.append((message, frame))
        } else {
            apply(message, frame: frame)
        }
    }

    private func rejected(_ error: RelayMessageError) {
        logger.info("invalid app message", metadata: ["reason": "\(error.reason)"])
        send(.error(description: error.errorDescription))
        if invalidRun.invalid() {
            let reason = RelayInvalidMessageCounter.closeReason
            closeApp(code: RelayInvalidMessageCounter.closeCode, reason: reason)
            finish(.failed, errorCode: 64105, errorMessage: reason)
        }
    }

    private func apply(_ message: RelayInbound, frame: String) {
        guard phase == .open, let call else { return }
        switch message {
        case let .text(text):
            speak(text, call)
        case let .play(play):
            preemptIfAllowed(call)
            if RelayCodec.isFetchableURL(play.source) {
                fetch(play, frame: frame, call)
            } else if let audio = prompts?(play.source) {
                enqueue(.play, audio: RelayAudio.looped(audio, times: play.loop), text: "", interruptible: play.interruptible, preemptible: play.preemptible, call)
            } else {
                send(.error(description: RelayMessageError(reason: "unknown prompt", frame: frame).errorDescription))
            }
        case let .sendDigits(digits):
            do {
                let tones = try RelayAudio.digitTones(digits)
                enqueue(.digits, audio: tones, text: digits, interruptible: nil, preemptible: false, call)
            } catch {
                send(.error(description: RelayMessageError(reason: "\(error)", frame: frame).errorDescription))
            }
        case let .language(tts, stt):
            // The call's voice is fixed when its speech socket opens: the TTS language is kept
            // for the session (and reported in logs); the STT one takes effect at once.
            if let tts { ttsLanguage = tts }
            if let stt, stt != transcriptionLanguage {
                transcriptionLanguage = stt
                // Settings are fixed per speech-to-text session: a new language is a new one.
                if hearing { hearing = call.listen(listenRequest) }
            }
            logger.info("relay language", metadata: ["tts": "\(ttsLanguage)", "transcription": "\(transcriptionLanguage)"])
        case let .end(handoffData):
            closeApp(code: 1000, reason: "Closing websocket session")
            finish(.ended, handoffData: handoffData)
        }
    }

    private func speak(_ text: RelayText, _ call: any CallControl) {
        if discardingStaleCycle {
            if text.last { discardingStaleCycle = false }
            return
        }
        if cycle == nil {
            guard !text.token.isEmpty else { return }  // `last` alone with nothing open: nothing to say.
            preemptIfAllowed(call)
            let id = nextID()
            items[id] = Item(kind: .cycle, text: "", preemptible: text.preemptible ?? configuration.preemptible)
            let prompt = call.startStreamedPrompt(id: id, interruptible: configuration.interruptible(override: text.interruptible))
            cycle = (id, prompt)
        }
        guard let open = cycle else { return }
        if !text.token.isEmpty {
            items[open.id]?.text += text.token
            open.prompt.send(text: text.token)
        }
        if text.last {
            open.prompt.finish()
            cycle = nil
        }
    }

    private func enqueue(_ kind: Kind, audio: [UInt8], text: String, interruptible: Bool?, preemptible: Bool?, _ call: any CallControl) {
        let id = nextID()
        items[id] = Item(kind: kind, text: text, preemptible: preemptible ?? (kind == .play ? configuration.preemptible : false))
        call.play(.audio(audio, text: text), id: id, interruptible: configuration.interruptible(override: interruptible))
    }

    private func fetch(_ play: RelayPlay, frame: String, _ call: any CallControl) {
        fetching = true
        fetchGeneration += 1
        let generation = fetchGeneration
        let bound = NIOLoopBound(self, eventLoop: call.eventLoop)
        let loop = call.eventLoop
        let load = loadAudio
        let source = play.source
        Task {
            let result: Result<[UInt8], any Error>
            do {
                result = .success(try await load(source))
            } catch {
                result = .failure(error)
            }
            loop.execute { bound.value.fetched(result, play: play, frame: frame, generation: generation) }
        }
    }

    private func fetched(_ result: Result<[UInt8], any Error>, play: RelayPlay, frame: String, generation: Int) {
        guard generation == fetchGeneration, phase == .open, let call else { return }
        fetching = false
        switch result {
        case let .success(audio):
            enqueue(.play, audio: RelayAudio.looped(audio, times: play.loop), text: "", interruptible: play.interruptible, preemptible: play.preemptible, call)
        case let .failure(error):
            logger.warning("play failed", metadata: ["source": "\(play.source)", "error": "\(error)"])
            send(.error(description: RelayMessageError(reason: "\(error)", frame: frame).errorDescription))
        }
        // What waited behind the fetch goes on, in order, until the next fetch (if any).
        while !fetching, !heldMessages.isEmpty, phase == .open {
            let (message, frame) = heldMessages.removeFirst()
            apply(message, frame: frame)
        }
    }

    /// A new cycle or `play` cuts a preemptible one short (doc §5.4): `tokensPlayed` for the
    /// fragment, no `interrupt`, and `agentSpeaking` does not toggle.
    private func preemptIfAllowed(_ call: any CallControl) {
        guard items.values.contains(where: { $0.preemptible && $0.started }) else { return }
        preempting = true
        call.stopSpeaking()
        preempting = false
    }

    private func interrupted(_ id: PromptID, heard: MarkLedger.Heard) {
        guard let item = items.removeValue(forKey: id) else { return }
        let wasOpenCycle = cycle?.id == id
        if wasOpenCycle { cycle = nil }
        if preempting {
            let text = heard.text
            if !text.isEmpty { sendInfo(.tokensPlayed, "tokensPlayed", text) }
            return
        }
        // A barge-in purges the whole queue (doc §5.2), including what waits behind a fetch.
        heldMessages.removeAll()
        if fetching {
            fetching = false
            fetchGeneration += 1
        }
        if wasOpenCycle { discardingStaleCycle = true }
        guard item.started else { return }
        // The caller's turn cut the agent off (by words, after an onset that did not): it is no
        // longer input during agent speech, and its prompt goes to the app.
        turnDuringAgentSpeech = false
        pendingInterrupt = (heard.text, heard.interruptedMs)
        // The caller event that caused it follows at once and flushes it; this is for a stop
        // with no caller event.
        if let call {
            let bound = NIOLoopBound(self, eventLoop: call.eventLoop)
            call.eventLoop.execute { bound.value.flushInterrupt() }
        }
    }

    /// `tokensPlayed` (the fragment), `interrupt`, then `agentSpeaking off`, in the observed order.
    private func flushInterrupt() {
        guard let pending = pendingInterrupt else { return }
        pendingInterrupt = nil
        if !pending.text.isEmpty { sendInfo(.tokensPlayed, "tokensPlayed", pending.text) }
        send(.interrupt(utteranceUntilInterrupt: pending.text, durationUntilInterruptMs: pending.ms))
        updateAgentSpeaking()
    }

    private func updateAgentSpeaking() {
        guard agentSpeaking, !items.values.contains(where: \.started), pendingInterrupt == nil else { return }
        agentSpeaking = false
        sendInfo(.speakerEvents, "agentSpeaking", "off")
    }

    // MARK: - Sending and ending

    private func sendInfo(_ subscription: RelayEvent, _ name: String, _ value: String) {
        guard configuration.events.contains(subscription) else { return }
        send(.info(name: name, value: value))
    }

    private func send(_ message: RelayOutbound) {
        switch phase {
        case .connecting: outbox.append(message)
        case .open: transport?.send(RelayCodec.encode(message))
        case .idle, .over: break
        }
    }

    private func closeApp(code: Int, reason: String) {
        let transport = self.transport
        self.transport = nil
        phase = phase == .open ? .over : phase
        transport?.close(code: code, reason: reason)
    }

    private func finish(
        _ status: RelaySessionResult.Status, handoffData: String? = nil, errorCode: Int? = nil, errorMessage: String? = nil
    ) {
        guard result == nil, let call else { return }
        phase = .over
        // Nobody listens once the session is over (a flow's relay step goes on without it).
        if hearing {
            hearing = false
            call.stopListening()
        }
        if let transport {
            self.transport = nil
            transport.close(code: 1000, reason: "Closing websocket session")
        }
        let seconds = Int((call.eventLoop.now - startedAt).nanoseconds / 1_000_000_000)
        let result = RelaySessionResult(
            sessionId: sessionId, status: status, durationSeconds: seconds, handoffData: handoffData,
            errorCode: errorCode, errorMessage: errorMessage)
        self.result = result
        heldMessages.removeAll()
        cycle?.prompt.finish()
        cycle = nil
        logger.info("relay session over", metadata: [
            "status": "\(status.rawValue)", "seconds": "\(seconds)", "errorCode": "\(errorCode.map(String.init) ?? "-")",
        ])
        if let onEnd {
            onEnd(result, call)
        } else if status != .completed {
            // hangUp/redirect wait for the last mark, so a goodbye the app queued is heard.
            switch configuration.endAction {
            case .hangUp:
                if status == .failed, let message = configuration.failureMessage, !message.isEmpty {
                    call.play(.text(message), id: nextID(), interruptible: .none)
                }
                call.hangUp()
            case .redirect: call.redirect()
            }
        }
    }

    private func nextID() -> PromptID {
        counter += 1
        return "relay.\(counter)"
    }
}

extension RelayInbound {
    /// Messages that add to the play queue, whose order a fetch must not change.
    var joinsPlayQueue: Bool {
        switch self {
        case .text, .play, .sendDigits: true
        case .language, .end: false
        }
    }
}
