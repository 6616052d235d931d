import Logging
import NIOCore
import VoiceBridgeCarriers

/// What one turn cost and how it went, reported once when it ends.
public struct ElevenLabsTurnMetrics: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case completed
        case cancelled
        case failed(String)
    }

    public var turnID: String
    /// Contexts the turn used, in order (more than one after a reconnect).
    public var contextIDs: [String] = []
    /// From the turn's start to its first audio.
    public var timeToFirstAudio: Duration?
    /// From the first text sent for it to its first audio: the service's part.
    public var timeToFirstAudioAfterText: Duration?
    public var chunks = 0
    public var audioBytes = 0
    /// Characters of text sent (a re-sent remainder counts again).
    public var characters = 0
    public var reconnects = 0
    public var outcome: Outcome = .completed

    public init(turnID: String) {
        self.turnID = turnID
    }
}

/// One call's multi-context socket and the turns on it. Confined to one event loop: every
/// method runs there, the socket's events arrive there, and its timers fire there.
///
/// - One context per turn, opened when a slot is free (at most `maxContexts` live, counting the
///   ones closing until their `isFinal` and a short release delay after it); later turns wait.
/// - Text goes out as the chunker completes clauses (`try_trigger_generation`); the end of a turn
///   is its last text with `flush`, then `close_context`, and the turn ends at that context's
///   `isFinal`. A context is never flushed or kept alive before its initialising message.
/// - Barge-in: `close_context`, and whatever still comes for that context is dropped.
/// - Keep-alives: each live context that has been quiet for half the interval gets one; an
///   idle socket keeps one spare context alive for itself, closed when a turn needs the room.
/// - A drop (or a retryable close) mid-turn: reconnect with backoff and jitter, and send each
///   turn the text its alignment says was not yet spoken, on a new context.
final class ElevenLabsWebSocketSession {
    private enum Link {
        case idle
        case connecting
        case open(ElevenLabsWebSocketConnection)
        case backingOff
        case closed
    }

    private struct ContextInfo {
        /// The turn it speaks for; nil once cancelled (its audio is dropped) or for the spare.
        var turn: Int?
        var closing = false
        var lastSent: NIODeadline
    }

    private final class Turn {
        let key: Int
        let id: String
        let queue: SpeechChunkQueue
        let sent: SpeechCharacterCount
        var chunker: TextChunker
        var chunkTimer: Scheduled<Void>?
        /// Pieces waiting for a context.
        var outbox: [String] = []
        /// A whole text's later sentences, or a streamed turn's later pieces, held back until the
        /// playhead needs them.
        var held: [String] = []
        /// The held pieces are streamed text: released together, without waiting for the piece
        /// in flight to be generated (the service may be buffering it for more text).
        var streamHeld = false
        /// Text is released just in time; off once the service proved too slow for the lead.
        var justInTime = true
        /// Audio received so far, and when the first of it came: the caller's playhead is
        /// estimated as that instant plus real time.
        var audioNanos: Int64 = 0
        var firstAudioAt: NIODeadline?
        /// Audio came since the last sentence was released: one sentence in flight at a time.
        var audioSinceRelease = true
        var releaseTimer: Scheduled<Void>?
        var tracker = SpokenTextTracker()
        var contextID: String?
        /// Text went out on the current context.
        var sentOnContext = false
        var finished = false
        /// The flush and `close_context` went out on the current context.
        var endSent = false
        let startedAt: NIODeadline
        var firstSentAt: NIODeadline?
        var metrics: ElevenLabsTurnMetrics

        init(key: Int, id: String, queue: SpeechChunkQueue, sent: SpeechCharacterCount, maxWait: TimeAmount, now: NIODeadline) {
            self.key = key
            self.id = id
            self.queue = queue
            self.sent = sent
            chunker = TextChunker(maxWait: maxWait)
            startedAt = now
            metrics = ElevenLabsTurnMetrics(turnID: id)
        }
    }

    let loop: any EventLoop
    private let client: ElevenLabsWebSocketClient
    private let configuration: ElevenLabsWebSocketConfiguration
    /// What the socket's `output_format` makes every audio message.
    private let audioFormat: MediaFormat
    private var logger: Logger
    private let onMetrics: (@Sendable (ElevenLabsTurnMetrics) -> Void)?

    private var link: Link = .idle
    /// Counts connection attempts; events of an older socket are ignored.
    private var generation = 0
    /// The socket's first message (carrying the settings) went out.
    private var settingsSent = false
    private var lastSocketSend: NIODeadline = .now()
    /// Attempts since a socket last delivered a message.
    private var failuresInARow = 0
    /// Turns are waiting for a replacement of a socket that dropped (retry the connect).
    private var reconnecting = false
    private var lastError: ElevenLabsWebSocketError?
    private var keepAliveTask: Scheduled<Void>?
    private var backoffTask: Scheduled<Void>?
    private var contextCounter = 0
    private var turns: [Int: Turn] = [:]
    private var order: [Int] = []
    private var contexts: [String: ContextInfo] = [:]
    /// Slots held for `contextReleaseDelay` after an `isFinal`.
    private var releasing = 0
    /// The spare context that keeps an idle socket alive.
    private var spareContextID: String?

    init(
        client: ElevenLabsWebSocketClient, loop: any EventLoop, logger: Logger,
        onMetrics: (@Sendable (ElevenLabsTurnMetrics) -> Void)?
    ) {
        self.client = client
        self.configuration = client.configuration
        self.audioFormat = client.configuration.outputFormat.mediaFormat ?? .mulaw8kMono
        self.loop = loop
        self.logger = logger
        self.onMetrics = onMetrics
    }

    private var maxWait: TimeAmount { Self.timeAmount(configuration.chunkerMaxWait) }

    private var liveContexts: Int { contexts.count + releasing }

    // MARK: - Turns (called by the turn objects, on the loop)

    /// Connects now, ahead of the first turn.
    func prepare() {
        if case .idle = link { connect() }
    }

    func startTurn(key: Int, id: String, queue: SpeechChunkQueue, sent: SpeechCharacterCount) {
        if case .closed = link {
            queue.fail(ElevenLabsWebSocketError.sourceClosed)
            return
        }
        turns[key] = Turn(key: key, id: id, queue: queue, sent: sent, maxWait: maxWait, now: .now())
        order.append(key)
        if case .idle = link { connect() }
        openContexts()
    }

    func send(key: Int, text: String) {
        guard let turn = turns[key], !turn.finished else { return }
        for piece in turn.chunker.append(text, at: .now()) { emitStreamed(piece, for: turn) }
        armChunkTimer(turn)
    }

    /// A streamed piece goes at once, unless the audio already generated runs `textLead` or
    /// more ahead of the playhead: then it waits (with what follows it) until the playhead needs
    /// it, and a barge-in in between means it is never sent, nor paid for.
    private func emitStreamed(_ piece: String, for turn: Turn) {
        guard holdsStreamed(turn) else { return emit(piece, for: turn) }
        turn.held.append(piece)
        turn.streamHeld = true
        releaseHeld(turn)
    }

    private func holdsStreamed(_ turn: Turn) -> Bool {
        if !turn.held.isEmpty { return true }  // Behind what is held, whatever happens.
        guard configuration.textLead > .zero, turn.justInTime, turn.contextID != nil, case .open = link, turn.sentOnContext else { return false }
        let lead = Self.timeAmount(configuration.textLead)
        guard let firstAudioAt = turn.firstAudioAt else {
            // No audio yet (a fast LLM sends its whole reply before the first audio): the text
            // already out will take about this long to say.
            return .nanoseconds(Int64(turn.metrics.characters) * Self.estimatedNanosPerCharacter) >= lead
        }
        return firstAudioAt + .nanoseconds(turn.audioNanos) - .now() >= lead
    }

    /// Streamed text that piled up while the turn waited for a context (a fast LLM's whole
    /// reply, sent before the socket opened): what covers the lead goes now, the rest just in time.
    private func holdBeyondLead(_ turn: Turn) {
        guard configuration.textLead > .zero, turn.outbox.count > 1, turn.held.isEmpty || turn.streamHeld else { return }
        let lead = Self.timeAmount(configuration.textLead).nanoseconds
        var characters = turn.metrics.characters
        var keep = 0
        while keep < turn.outbox.count, keep == 0 || Int64(characters) * Self.estimatedNanosPerCharacter < lead {
            characters += turn.outbox[keep].count
            keep += 1
        }
        guard keep < turn.outbox.count else { return }
        turn.held.insert(contentsOf: turn.outbox[keep...], at: 0)
        turn.outbox.removeSubrange(keep...)
        turn.streamHeld = true
    }

    /// Speech runs at about 15 characters a second.
    static let estimatedNanosPerCharacter: Int64 = 65_000_000

    /// A whole text (`speak`): its first sentence at once, the rest just in time (`textLead`),
    /// each generated with a flush; the last with the flush and `close_context`.
    func speak(key: Int, text: String) {
        guard let turn = turns[key], !turn.finished else { return }
        var pieces = configuration.textLead > .zero ? TextChunker.sentencePieces(text) : []
        if pieces.count < 2 { pieces = TextChunker.piece(text[...]).map { [$0] } ?? [] }
        if let first = pieces.first { turn.outbox.append(first) }
        turn.held = Array(pieces.dropFirst())
        finish(key: key)
    }

    func finish(key: Int) {
        guard let turn = turns[key], !turn.finished else { return }
        turn.finished = true
        turn.chunkTimer?.cancel()
        turn.chunkTimer = nil
        if let rest = turn.chunker.finish() {
            if turn.held.isEmpty { turn.outbox.append(rest) } else { turn.held.append(rest) }
        }
        if turn.outbox.isEmpty && turn.tracker.text.isEmpty {
            // Nothing to say: done without a sound.
            if let c = turn.contextID { closeContext(c) }
            complete(turn)
            openContexts()
            return
        }
        if turn.contextID != nil { sendEnd(turn) }
    }

    func cancel(key: Int) {
        guard let turn = turns.removeValue(forKey: key) else { return }
        order.removeAll { $0 == key }
        turn.chunkTimer?.cancel()
        turn.releaseTimer?.cancel()
        turn.queue.cancel()
        if let c = turn.contextID {
            contexts[c]?.turn = nil  // Late audio of this context is dropped from now on.
            closeContext(c)
        }
        turn.metrics.outcome = .cancelled
        onMetrics?(turn.metrics)
        logger.debug("turn cancelled", metadata: ["turn": "\(turn.id)", "context": "\(turn.contextID ?? "-")"])
        openContexts()
    }

    /// The call is over: close the socket, end every turn.
    func close() {
        if case .closed = link { return }
        let previous = link
        link = .closed
        backoffTask?.cancel()
        keepAliveTask?.cancel()
        for key in order { turns[key]?.chunkTimer?.cancel() }
        for key in order { turns[key]?.queue.cancel() }
        turns.removeAll()
        order.removeAll()
        contexts.removeAll()
        if case .open(let connection) = previous { connection.close() }
    }

    // MARK: - Sending

    private func emit(_ piece: String, for turn: Turn) {
        guard let c = turn.contextID, case .open(let connection) = link else {
            turn.outbox.append(piece)
            return
        }
        sendText(piece, turn: turn, context: c, connection: connection, flush: flushesFirst(piece, turn))
    }

    /// The service ignores `try_trigger_generation` below about 50 buffered characters (doc §1.4),
    /// so a short first clause of a streamed turn (an LLM's "Sure," or "Hello there.") would wait
    /// for the next one, or for the end of the turn. It goes out with `flush` instead: the caller
    /// hears the start of a reply one TTFB after the chunker lets it go.
    static let tryTriggerMinimum = 50

    private func flushesFirst(_ piece: String, _ turn: Turn) -> Bool {
        !turn.sentOnContext && piece.count < Self.tryTriggerMinimum
    }

    private func sendText(_ piece: String, turn: Turn, context c: String, connection: ElevenLabsWebSocketConnection, flush: Bool) {
        let message = ElevenLabsWebSocketMessage.text(piece, contextID: c, tryTriggerGeneration: !flush, flush: flush)
        send(message, on: connection, context: c)
        let sent = ElevenLabsWebSocketMessage.endingWithOneSpace(piece)
        turn.tracker.sent(sent)
        turn.metrics.characters += sent.count
        turn.sent.add(sent.count)
        turn.sentOnContext = true
        if turn.firstSentAt == nil { turn.firstSentAt = .now() }
    }

    /// The last text with `flush` (or a bare flush), then `close_context`. While sentences are
    /// held back, what is waiting goes out flushed and the context stays open.
    private func sendEnd(_ turn: Turn) {
        guard let c = turn.contextID, case .open(let connection) = link, !turn.endSent else { return }
        let pieces = turn.outbox
        turn.outbox = []
        guard turn.finished, turn.held.isEmpty else {
            for piece in pieces { sendText(piece, turn: turn, context: c, connection: connection, flush: true) }
            if !pieces.isEmpty { turn.audioSinceRelease = false }
            return
        }
        for (i, piece) in pieces.enumerated() {
            sendText(piece, turn: turn, context: c, connection: connection, flush: i == pieces.count - 1)
        }
        if pieces.isEmpty, turn.sentOnContext {
            send(.flush(contextID: c), on: connection, context: c)
        }
        turn.endSent = true
        closeContext(c)
    }

    private func closeContext(_ c: String) {
        guard var info = contexts[c], !info.closing, case .open(let connection) = link else { return }
        info.closing = true
        contexts[c] = info
        send(.closeContext(contextID: c), on: connection, context: c)
    }

    private func send(_ message: ElevenLabsWebSocketMessage, on connection: ElevenLabsWebSocketConnection, context c: String?) {
        connection.send(message)
        let now = NIODeadline.now()
        lastSocketSend = now
        if let c { contexts[c]?.lastSent = now }
    }

    /// Gives waiting turns a context while there is room.
    private func openContexts() {
        guard case .open(let connection) = link else { return }
        for key in order {
            guard let turn = turns[key], turn.contextID == nil else { continue }
            if let spare = spareContextID {
                // The spare's job is done once a turn keeps the socket busy.
                spareContextID = nil
                closeContext(spare)
            }
            guard liveContexts < configuration.maxContexts else {
                logger.debug("turn waits for a free context", metadata: ["turn": "\(turn.id)", "live": "\(liveContexts)"])
                break
            }
            contextCounter += 1
            let c = "ctx-\(contextCounter)"
            contexts[c] = ContextInfo(turn: key, lastSent: .now())
            turn.contextID = c
            turn.sentOnContext = false
            turn.endSent = false
            turn.metrics.contextIDs.append(c)
            send(initialization(c), on: connection, context: c)
            holdBeyondLead(turn)
            if turn.finished {
                sendEnd(turn)
            } else {
                let pieces = turn.outbox
                turn.outbox = []
                for piece in pieces { sendText(piece, turn: turn, context: c, connection: connection, flush: flushesFirst(piece, turn)) }
            }
            if !turn.held.isEmpty { releaseHeld(turn) }  // A new context after a drop: its timer may be gone.
        }
    }

    /// A context's first message; the socket's first also carries the settings.
    private func initialization(_ c: String) -> ElevenLabsWebSocketMessage {
        defer { settingsSent = true }
        if settingsSent { return .initialize(contextID: c, voiceSettings: nil, schedule: nil) }
        return .initialize(contextID: c, voiceSettings: configuration.voiceSettings, schedule: configuration.schedule)
    }

    private func armChunkTimer(_ turn: Turn) {
        turn.chunkTimer?.cancel()
        turn.chunkTimer = nil
        guard let deadline = turn.chunker.deadline else { return }
        let key = turn.key
        turn.chunkTimer = loop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            guard let turn = turns[key] else { return }
            turn.chunkTimer = nil
            for piece in turn.chunker.due(at: .now()) { emitStreamed(piece, for: turn) }
            armChunkTimer(turn)
        }
    }

    // MARK: - Connection

    private func connect() {
        generation += 1
        let generation = generation
        link = .connecting
        settingsSent = false
        let bound = NIOLoopBound(self, eventLoop: loop)
        client.connect(.multiStreamInput, on: loop) { event in
            bound.value.handle(event, generation: generation)
        }
        .assumeIsolated()
        .whenComplete { [self] result in
            guard generation == self.generation, case .connecting = link else {
                if case .success(let connection) = result { connection.close() }
                return
            }
            switch result {
            case .success(let connection):
                opened(connection)
            case .failure(let error):
                connectFailed(error as? ElevenLabsWebSocketError ?? .connectFailed("\(error)"))
            }
        }
    }

    private func opened(_ connection: ElevenLabsWebSocketConnection) {
        link = .open(connection)
        reconnecting = false
        lastSocketSend = .now()
        logger.debug("socket open", metadata: ["attempt": "\(generation)"])
        armKeepAlive()
        openContexts()
    }

    private func armKeepAlive() {
        keepAliveTask?.cancel()
        keepAliveTask = loop.assumeIsolated().scheduleTask(in: Self.timeAmount(configuration.keepAliveInterval)) { [self] in
            keepAliveTask = nil
            guard case .open = link else { return }
            keepAlive()
            armKeepAlive()
        }
    }

    private func connectFailed(_ error: ElevenLabsWebSocketError) {
        link = .idle
        lastError = error
        logger.warning("ElevenLabs WebSocket connect failed", metadata: ["error": "\(error)"])
        if reconnecting, Self.worthRetrying(error) {
            scheduleReconnect()
        } else {
            // Before any audio the fallback chain moves on at once; later turns try again.
            failAll(error)
        }
    }

    private func handle(_ event: ElevenLabsWebSocketEvent, generation: Int) {
        guard generation == self.generation else { return }
        switch event {
        case .message(let message):
            receive(message)
        case .closed(let error):
            closed(error)
        }
    }

    private func receive(_ message: ElevenLabsWebSocketServerMessage) {
        failuresInARow = 0
        if let audio = message.audio, !audio.isEmpty {
            guard let c = message.contextID, let key = contexts[c]?.turn, let turn = turns[key], turn.contextID == c else {
                return  // A cancelled (or unknown) context: late audio, dropped.
            }
            let chunk = SpeechChunk(
                turnID: turn.id, audio: audio, alignment: message.alignment ?? message.normalizedAlignment, format: audioFormat)
            let now = NIODeadline.now()
            if turn.metrics.chunks == 0 {
                turn.metrics.timeToFirstAudio = Self.duration(now - turn.startedAt)
                turn.metrics.timeToFirstAudioAfterText = turn.firstSentAt.map { Self.duration(now - $0) }
            }
            turn.metrics.chunks += 1
            turn.metrics.audioBytes += audio.count
            turn.tracker.delivered(chunk)
            turn.queue.push(chunk)
            if turn.firstAudioAt == nil {
                turn.firstAudioAt = now
                if let sentAt = turn.firstSentAt, TextLead.tooSlow(firstAudioAfter: .nanoseconds((now - sentAt).nanoseconds), lead: configuration.textLead) {
                    // A sentence released when the audio ahead falls to the lead would come
                    // after the audio ran out: the rest goes now, paid for, but without gaps.
                    logger.info("first audio slower than the text lead allows; sending the rest at once", metadata: [
                        "turn": "\(turn.id)", "ttfbMs": "\((now - sentAt).nanoseconds / 1_000_000)",
                    ])
                    turn.justInTime = false
                    if !turn.held.isEmpty {
                        // One message, one generation: a slow service pays its latency once.
                        turn.outbox.append(turn.held.joined())
                        turn.held = []
                        turn.releaseTimer?.cancel()
                        turn.releaseTimer = nil
                        sendEnd(turn)
                    }
                }
            }
            turn.audioNanos += audioFormat.nanoseconds(ofBytes: audio.count)
            if !turn.held.isEmpty {
                turn.audioSinceRelease = true
                releaseHeld(turn)
            }
        }
        if message.isFinal, let c = message.contextID {
            contextFinished(c)
        }
    }

    private func contextFinished(_ c: String) {
        guard let info = contexts.removeValue(forKey: c) else { return }
        if spareContextID == c { spareContextID = nil }
        if configuration.contextReleaseDelay > .zero {
            releasing += 1
            loop.assumeIsolated().scheduleTask(in: Self.timeAmount(configuration.contextReleaseDelay)) { [self] in
                releasing = max(0, releasing - 1)
                openContexts()
            }
        }
        if let key = info.turn, let turn = turns[key], turn.contextID == c {
            if turn.endSent {
                complete(turn)
            } else {
                // The service closed it on its own (an idle context): carry on in a new one.
                logger.info("context closed by the service; re-opening", metadata: ["turn": "\(turn.id)", "context": "\(c)"])
                detach(turn)
            }
        }
        openContexts()
    }

    /// Sends the next held sentence once the one in flight is generated and the audio ahead of
    /// the playhead falls below the lead; otherwise looks again when either can have changed.
    /// Streamed pieces skip the "generated" test (the service may hold a piece sent with
    /// `try_trigger_generation` until more text comes); each goes with a flush, which forces it.
    private func releaseHeld(_ turn: Turn) {
        turn.releaseTimer?.cancel()
        turn.releaseTimer = nil
        guard !turn.held.isEmpty, turn.contextID != nil, case .open = link, !turn.endSent else { return }
        let lead = Self.timeAmount(configuration.textLead)
        let now = NIODeadline.now()
        guard let firstAudioAt = turn.firstAudioAt else {
            // Streamed text held before any audio: the first audio looks again, and should none
            // come (the service holding a short piece for more text), the next goes anyway.
            if turn.streamHeld { armRelease(turn, at: (turn.firstSentAt ?? now) + Self.stallAllowance(lead), force: true) }
            return
        }
        // The sentence in flight is generated when the alignment has covered its text; audio
        // without alignment only says that it began.
        let generated = turn.streamHeld
            || (turn.tracker.sawUnalignedAudio ? turn.audioSinceRelease : !UtteranceText.isSpeakable(turn.tracker.unspoken))
        let playedOut = firstAudioAt + .nanoseconds(turn.audioNanos)
        guard generated, playedOut - now < lead else {
            // Audio still arriving looks again; a quiet stretch needs the timer.
            if generated { armRelease(turn, at: playedOut - lead) }
            return
        }
        releaseNext(turn)
        // The released piece's audio looks again; should none come at all, the next streamed
        // piece goes anyway. (Slow audio is no stall: when it comes, the playhead decides.)
        if turn.streamHeld, !turn.held.isEmpty { armRelease(turn, at: now + Self.stallAllowance(lead), force: true) }
    }

    /// How long held streamed text waits for audio that does not come before it goes anyway.
    static func stallAllowance(_ lead: TimeAmount) -> TimeAmount { max(lead, .seconds(2)) }

    private func releaseNext(_ turn: Turn) {
        turn.outbox.append(turn.held.removeFirst())
        logger.trace("sentence released", metadata: ["turn": "\(turn.id)", "context": "\(turn.contextID ?? "-")", "held": "\(turn.held.count)"])
        sendEnd(turn)
    }

    /// Looks at `turn`'s held text again at `deadline`; `force` sends the next piece first.
    private func armRelease(_ turn: Turn, at deadline: NIODeadline, force: Bool = false) {
        let key = turn.key
        turn.releaseTimer = loop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            guard let turn = turns[key] else { return }
            turn.releaseTimer = nil
            if force, !turn.held.isEmpty, turn.contextID != nil, case .open = link, !turn.endSent { releaseNext(turn) }
            releaseHeld(turn)
        }
    }

    private func complete(_ turn: Turn) {
        turns[turn.key] = nil
        order.removeAll { $0 == turn.key }
        turn.chunkTimer?.cancel()
        turn.releaseTimer?.cancel()
        turn.queue.finish()
        turn.metrics.outcome = .completed
        onMetrics?(turn.metrics)
    }

    /// The turn's context is gone: what it didn't speak waits for a new one.
    private func detach(_ turn: Turn) {
        turn.contextID = nil
        turn.endSent = false
        turn.sentOnContext = false
        let rest = turn.tracker.unspoken
        turn.tracker.dropUnspoken()
        if !rest.isEmpty { turn.outbox.insert(rest, at: 0) }
    }

    private func closed(_ error: ElevenLabsWebSocketError?) {
        if case .closed = link { return }
        link = .idle
        keepAliveTask?.cancel()
        keepAliveTask = nil
        contexts.removeAll()
        releasing = 0
        spareContextID = nil
        let error = error ?? .closed(code: 1000, reason: "closed by the service")
        lastError = error
        guard !turns.isEmpty else {
            logger.info("ElevenLabs WebSocket closed while idle; reconnecting at the next turn", metadata: ["reason": "\(error)"])
            return
        }
        guard Self.worthRetrying(error) else {
            logger.warning("ElevenLabs WebSocket closed", metadata: ["error": "\(error)"])
            failAll(error)
            return
        }
        logger.warning("ElevenLabs WebSocket dropped mid-turn; reconnecting", metadata: ["error": "\(error)"])
        for key in order {
            guard let turn = turns[key] else { continue }
            if turn.contextID != nil {
                turn.metrics.reconnects += 1
                detach(turn)
            }
            if turn.finished && turn.outbox.isEmpty {
                complete(turn)  // Everything it had was spoken; only the isFinal was lost.
            }
        }
        guard !turns.isEmpty else { return }
        reconnecting = true
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        failuresInARow += 1
        guard failuresInARow <= configuration.reconnect.maxRetries else {
            failuresInARow = 0
            reconnecting = false
            failAll(lastError ?? .connectionLost("gave up reconnecting"))
            return
        }
        let delay = configuration.reconnect.backoff(forRetry: failuresInARow - 1)
        link = .backingOff
        logger.info("reconnecting", metadata: ["in": "\(delay)", "attempt": "\(failuresInARow)"])
        backoffTask = loop.assumeIsolated().scheduleTask(in: Self.timeAmount(delay)) { [self] in
            guard case .backingOff = link else { return }
            connect()
        }
    }

    private func failAll(_ error: ElevenLabsWebSocketError) {
        let failed = order.compactMap { turns[$0] }
        turns.removeAll()
        order.removeAll()
        for turn in failed {
            turn.chunkTimer?.cancel()
            turn.queue.fail(error)
            turn.metrics.outcome = .failed("\(error)")
            onMetrics?(turn.metrics)
        }
    }

    /// Keeps every live context, and an idle socket, inside the inactivity timeout.
    private func keepAlive() {
        guard case .open(let connection) = link else { return }
        let now = NIODeadline.now()
        let quiet = TimeAmount.nanoseconds(Self.timeAmount(configuration.keepAliveInterval).nanoseconds / 2)
        var busy = false
        for (c, info) in contexts where !info.closing && info.turn != nil {
            busy = true
            if now - info.lastSent >= quiet { send(.keepAlive(contextID: c), on: connection, context: c) }
        }
        guard !busy, now - lastSocketSend >= quiet else { return }
        if let spare = spareContextID {
            send(.keepAlive(contextID: spare), on: connection, context: spare)
        } else if liveContexts < configuration.maxContexts {
            contextCounter += 1
            let c = "keepalive-\(contextCounter)"
            contexts[c] = ContextInfo(turn: nil, lastSent: now)
            spareContextID = c
            send(initialization(c), on: connection, context: c)
        } else if let any = contexts.first(where: { !$0.value.closing })?.key {
            send(.keepAlive(contextID: any), on: connection, context: any)
        }
    }

    // MARK: - Helpers

    private static func worthRetrying(_ error: ElevenLabsWebSocketError) -> Bool {
        if case .connectFailed = error { return true }
        return error.isRetryable
    }

    static func timeAmount(_ d: Duration) -> TimeAmount {
        .nanoseconds(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
    }

    static func duration(_ t: TimeAmount) -> Duration {
        .nanoseconds(t.nanoseconds)
    }
}
