import NIOCore
import Logging
import VoiceBridgeCarriers
import Synchronization

/// One turn of `ElevenLabsHTTPSpeechSource`. Text is cut into sentences as it arrives; a worker
/// task requests them one batch at a time and pushes the audio into the turn's queue. With a
/// text lead, each request after the first waits for the playhead (see the source).
final class ElevenLabsHTTPTurn: SpeechTurn {
    let id: String
    private let pending: PendingText
    private let queue = SpeechChunkQueue()
    private let sent = SpeechCharacterCount()
    var charactersSent: Int { sent.value }
    private let wake: AsyncStream<Void>.Continuation
    private let worker: Task<Void, Never>

    init(
        id: String, template: ElevenLabsSpeechRequest, client: ElevenLabsHTTPClient,
        maxCharactersPerRequest: Int, previousTextCharacters: Int, textLead: Duration = .zero, logger: Logger
    ) {
        self.id = id
        let pending = PendingText()
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let work = Work(
            turnID: id, template: template, client: client, pending: pending, queue: queue, sent: sent,
            maxCharacters: maxCharactersPerRequest, previousTextCharacters: previousTextCharacters, textLead: textLead,
            logger: logger
        )
        self.pending = pending
        self.wake = wake
        worker = Task { await work.run(wakeups: wakeups) }
    }

    var chunks: AsyncThrowingStream<SpeechChunk, any Error> {
        AsyncThrowingStream { [self] in
            try await withTaskCancellationHandler {
                try await queue.next()
            } onCancel: {
                cancel()  // A consumer that stops listening is a barge-in too.
            }
        }
    }

    /// Chunks reach `receiver` on `loop`: one hop each from the producing thread, none when the
    /// producer runs on `loop` itself (the ElevenLabs socket on the call's loop).
    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {
        queue.deliver(on: loop, to: receiver)
    }

    func send(text: String) {
        if pending.append(text) { wake.yield() }
    }

    /// A whole text, already cut into sentences: one request each, never batched, so each waits
    /// for the playhead on its own.
    func speakPieces(_ pieces: [String]) {
        pending.setPieces(pieces)
        finish()
    }

    /// A whole text in as few requests as `maxCharactersPerRequest` allows (one, mostly).
    func speakWhole(_ text: String) {
        pending.setWhole(text)
        finish()
    }

    func finish() {
        pending.finish()
        wake.yield()
        wake.finish()
    }

    func cancel() {
        pending.cancel()
        wake.finish()
        worker.cancel()  // Ends the request's stream, which aborts its transfer on the curl thread.
        queue.cancel()
    }
}

/// The turn's text: sentences not yet requested, and whether more can come.
private final class PendingText: Sendable {
    enum Next {
        case text(String)
        case wait
        case done
    }

    private struct State {
        var splitter = UtteranceText()
        var sentences: [String] = []
        var finished = false
        var cancelled = false
        /// A known text: a sentence per request.
        var oneAtATime = false
    }

    private let state = Mutex(State())

    /// Adds text; true when it completed a sentence worth waking the worker for.
    func append(_ text: String) -> Bool {
        state.withLock { state in
            guard !state.finished, !state.cancelled else { return false }
            let complete = state.splitter.append(text).filter { UtteranceText.isSpeakable($0) }
            state.sentences += complete
            return !complete.isEmpty
        }
    }

    /// The service is too slow to pace: what is left goes in batches again.
    func stopPacing() {
        state.withLock { $0.oneAtATime = false }
    }

    /// A whole text, complete at once, so the worker never sees it half-split.
    func setWhole(_ text: String) {
        state.withLock { state in
            guard !state.finished, !state.cancelled else { return }
            state.sentences = state.splitter.append(text).filter { UtteranceText.isSpeakable($0) }
            if let rest = state.splitter.finish(), UtteranceText.isSpeakable(rest) { state.sentences.append(rest) }
            state.finished = true
        }
    }

    func setPieces(_ pieces: [String]) {
        state.withLock { state in
            guard !state.finished, !state.cancelled else { return }
            state.sentences = pieces
            state.oneAtATime = true
        }
    }

    func finish() {
        state.withLock { state in
            guard !state.finished, !state.cancelled else { return }
            state.finished = true
            if let rest = state.splitter.finish(), UtteranceText.isSpeakable(rest) { state.sentences.append(rest) }
        }
    }

    func cancel() {
        state.withLock {
            $0.cancelled = true
            $0.sentences.removeAll()
        }
    }

    /// Nothing to request yet, but more text may come.
    var isWaiting: Bool {
        state.withLock { !$0.cancelled && !$0.finished && $0.sentences.isEmpty }
    }

    /// The next batch: whole sentences, at least one, up to about `maxCharacters` (one for a
    /// known text), with the start of what follows it, if already known, for `next_text`.
    func take(maxCharacters: Int) -> (next: Next, following: String) {
        state.withLock { state in
            if state.cancelled { return (.done, "") }
            guard !state.sentences.isEmpty else { return (state.finished ? .done : .wait, "") }
            var batch = state.sentences.removeFirst()
            while !state.oneAtATime, let next = state.sentences.first, batch.count + next.count <= maxCharacters {
                batch += next
                state.sentences.removeFirst()
            }
            return (.text(batch), state.sentences.first ?? "")
        }
    }
}

/// The worker's side of a turn.
private struct Work: Sendable {
    let turnID: String
    let template: ElevenLabsSpeechRequest
    let client: ElevenLabsHTTPClient
    let pending: PendingText
    let queue: SpeechChunkQueue
    let sent: SpeechCharacterCount
    let maxCharacters: Int
    let previousTextCharacters: Int
    let textLead: Duration
    let logger: Logger

    func run(wakeups: AsyncStream<Void>) async {
        var wakeups = wakeups.makeAsyncIterator()
        var spoken = ""
        var playout = Playout()
        var paced = textLead > .zero
        while !Task.isCancelled {
            let (next, following) = pending.take(maxCharacters: maxCharacters)
            switch next {
            case .text(let text):
                var request = template
                request.text = text
                let previous = spoken.suffix(previousTextCharacters)
                request.previousText = previous.isEmpty ? nil : String(previous)
                let upcoming = following.prefix(previousTextCharacters)
                request.nextText = upcoming.isEmpty ? nil : String(upcoming)
                do {
                    // Just in time: the caller may barge in while this waits, and then this
                    // text is never paid for.
                    if paced, let releaseAt = playout.releaseTime(lead: textLead) {
                        try await Task.sleep(until: releaseAt, clock: .continuous)
                    }
                    sent.add(text.count)
                    let requested = ContinuousClock.now
                    try await speak(request, playout: &playout)
                    // A first audio slower than the lead allows would leave gaps between paced
                    // requests: the rest goes at once.
                    if paced, let first = playout.firstAudioAt, TextLead.tooSlow(firstAudioAfter: first - requested, lead: textLead) {
                        logger.info("first audio slower than the text lead allows; requesting the rest at once")
                        paced = false
                        pending.stopPacing()
                    }
                } catch {
                    if !Task.isCancelled && !(error is CancellationError) {
                        logger.warning("ElevenLabs HTTP turn failed", metadata: ["error": "\(error)"])
                        queue.fail(error)
                    }
                    return
                }
                spoken += text
            case .wait:
                // The wakeups end only after `finish()` or `cancel()`, and after either `take`
                // never says wait again; a nil here while it still did would spin, so stop.
                if await wakeups.next() == nil, pending.isWaiting { return }
            case .done:
                queue.finish()
                return
            }
        }
    }

    private func speak(_ request: ElevenLabsSpeechRequest, playout: inout Playout) async throws {
        var timeline = ElevenLabsAlignmentTimeline()
        let format = request.outputFormat.mediaFormat ?? .mulaw8kMono
        for try await event in client.streamWithTimestamps(request) {
            guard case .audio(let piece) = event else { continue }
            if let chunk = timeline.chunk(for: piece, turnID: turnID, format: format) {
                playout.generated(format.nanoseconds(ofBytes: chunk.audio.count))
                queue.push(chunk)
            }
        }
        try Task.checkCancellation()
    }
}

/// Where the turn's playhead is, as far as the turn can tell: its audio starts playing when the
/// first chunk arrives and plays without a break, so what it generated runs out at the first
/// chunk's arrival plus its length. (A call still playing something else starts it later: the
/// estimate then releases text early, never late.)
struct Playout {
    private(set) var firstAudioAt: ContinuousClock.Instant?
    private var audioNanos: Int64 = 0

    mutating func generated(_ nanos: Int64, at now: ContinuousClock.Instant = .now) {
        if firstAudioAt == nil { firstAudioAt = now }
        audioNanos += nanos
    }

    /// When the audio ahead of the playhead falls to `lead`; nil before any audio (the first
    /// request goes at once).
    func releaseTime(lead: Duration) -> ContinuousClock.Instant? {
        guard let firstAudioAt else { return nil }
        return firstAudioAt + .nanoseconds(audioNanos) - lead
    }
}
