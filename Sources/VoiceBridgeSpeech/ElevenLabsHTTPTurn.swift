import NIOCore
import Logging
import VoiceBridgeCarriers
import Synchronization

/// One turn of `ElevenLabsHTTPSpeechSource`. Text is cut into sentences as it arrives; a worker
/// task requests them one batch at a time and pushes the audio into the turn's queue.
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
        maxCharactersPerRequest: Int, previousTextCharacters: Int, logger: Logger
    ) {
        self.id = id
        let pending = PendingText()
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let work = Work(
            turnID: id, template: template, client: client, pending: pending, queue: queue, sent: sent,
            maxCharacters: maxCharactersPerRequest, previousTextCharacters: previousTextCharacters, logger: logger
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

    /// The next batch: whole sentences, at least one, up to about `maxCharacters`.
    func take(maxCharacters: Int) -> Next {
        state.withLock { state in
            if state.cancelled { return .done }
            guard !state.sentences.isEmpty else { return state.finished ? .done : .wait }
            var batch = state.sentences.removeFirst()
            while let next = state.sentences.first, batch.count + next.count <= maxCharacters {
                batch += next
                state.sentences.removeFirst()
            }
            return .text(batch)
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
    let logger: Logger

    func run(wakeups: AsyncStream<Void>) async {
        var wakeups = wakeups.makeAsyncIterator()
        var spoken = ""
        while !Task.isCancelled {
            switch pending.take(maxCharacters: maxCharacters) {
            case .text(let text):
                var request = template
                request.text = text
                let previous = spoken.suffix(previousTextCharacters)
                request.previousText = previous.isEmpty ? nil : String(previous)
                sent.add(text.count)
                do {
                    try await speak(request)
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

    private func speak(_ request: ElevenLabsSpeechRequest) async throws {
        var timeline = ElevenLabsAlignmentTimeline()
        let format = request.outputFormat.mediaFormat ?? .mulaw8kMono
        for try await event in client.streamWithTimestamps(request) {
            guard case .audio(let piece) = event else { continue }
            if let chunk = timeline.chunk(for: piece, turnID: turnID, format: format) { queue.push(chunk) }
        }
        try Task.checkCancellation()
    }
}
