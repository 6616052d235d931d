import Logging
import Synchronization

/// One turn of the offline voice. Text is cut into sentences as it arrives and each sentence is
/// queued on the shared espeak engine; the engine hands the audio back through `deliver`.
///
/// The turn keeps its own buffer behind `chunks` instead of an `AsyncThrowingStream`
/// continuation: espeak runs far faster than real time, so seconds of audio can be waiting when a
/// barge-in comes, and a continuation's `finish()` would still hand all of it out. `cancel()`
/// drops the buffer, so nothing reaches the consumer after it.
final class OfflineTurn: SpeechTurn {
    let id: String
    let settings: OfflineVoice.Configuration
    /// espeak voice names to try, in order; the first that exists speaks the turn.
    let voices: [String]
    let logger: Logger

    private let engine: EspeakEngine
    private let state = Mutex(State())
    /// Set once the engine should produce nothing more for this turn (cancelled or failed). The
    /// engine reads it for every espeak block, so it is an atomic rather than a trip through the lock.
    private let stopped = Atomic<Bool>(false)

    private struct State {
        var splitter = UtteranceText()
        /// `finish()` or `cancel()` was called: no more text is taken.
        var closed = false
        /// Audio not yet taken by the consumer.
        var buffer: [SpeechChunk] = []
        var head = 0
        /// How the stream ends once the buffer is drained; nil while audio may still come.
        var ending: Ending?
        /// The consumer, parked until a chunk or the end arrives.
        var waiter: CheckedContinuation<SpeechChunk?, any Error>?

        mutating func popChunk() -> SpeechChunk? {
            guard head < buffer.count else { return nil }
            let chunk = buffer[head]
            head += 1
            if head == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                head = 0
            }
            return chunk
        }
    }

    private enum Ending {
        case finished
        case failed(OfflineVoiceError)
    }

    init(id: String, settings: OfflineVoice.Configuration, voices: [String], engine: EspeakEngine, logger: Logger) {
        precondition(!voices.isEmpty, "a turn needs a voice")
        self.id = id
        self.settings = settings
        self.voices = voices
        self.engine = engine
        self.logger = logger
    }

    var chunks: AsyncThrowingStream<SpeechChunk, any Error> {
        AsyncThrowingStream { [self] in try await next() }
    }

    func send(text: String) {
        // Sentences are queued under the lock so that two racing `send`s can't reorder them.
        state.withLock { state in
            guard !state.closed else { return }
            for sentence in state.splitter.append(text) where UtteranceText.isSpeakable(sentence) {
                engine.submit(.speak(self, sentence))
            }
        }
    }

    func finish() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            if let rest = state.splitter.finish(), UtteranceText.isSpeakable(rest) {
                engine.submit(.speak(self, rest))
            }
            // Runs after this turn's last sentence: the engine's queue is first in, first out.
            engine.submit(.finish(self))
        }
    }

    func cancel() {
        stopped.store(true, ordering: .relaxed)
        let waiter = state.withLock { state -> CheckedContinuation<SpeechChunk?, any Error>? in
            guard state.ending == nil || !state.buffer.isEmpty else { return nil }  // Already over.
            state.closed = true
            state.buffer.removeAll()
            state.head = 0
            state.ending = .finished
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The consumer's side of `chunks`.
    private func next() async throws -> SpeechChunk? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<SpeechChunk?, any Error>) in
                let ready = state.withLock { state -> Result<SpeechChunk?, OfflineVoiceError>? in
                    if let chunk = state.popChunk() { return .success(chunk) }
                    switch state.ending {
                    case .finished:
                        return .success(nil)
                    case .failed(let error):
                        state.ending = .finished  // Throw once; the stream is over after that.
                        return .failure(error)
                    case nil:
                        precondition(state.waiter == nil, "an offline turn's chunks has one consumer")
                        state.waiter = waiter
                        return nil
                    }
                }
                if let ready { waiter.resume(with: ready) }
            }
        } onCancel: {
            // A consumer that stops listening is a barge-in too.
            cancel()
        }
    }

    // MARK: - Called by the engine, on its thread

    var isStopped: Bool { stopped.load(ordering: .relaxed) }

    func deliver(_ chunk: SpeechChunk) {
        let waiter = state.withLock { state -> CheckedContinuation<SpeechChunk?, any Error>? in
            guard state.ending == nil else { return nil }
            guard let waiter = state.waiter else {
                state.buffer.append(chunk)
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: chunk)
    }

    /// The turn's last sentence is out: the stream ends once the consumer has taken it all.
    func complete() {
        end(.finished)
    }

    func fail(_ error: OfflineVoiceError) {
        stopped.store(true, ordering: .relaxed)
        logger.warning("offline turn failed", metadata: ["error": "\(error)"])
        end(.failed(error))
    }

    private func end(_ ending: Ending) {
        let waiter = state.withLock { state -> CheckedContinuation<SpeechChunk?, any Error>? in
            guard state.ending == nil else { return nil }
            state.closed = true
            state.ending = ending
            defer { state.waiter = nil }
            return state.waiter  // Only parked while the buffer is empty.
        }
        switch ending {
        case .finished: waiter?.resume(returning: nil)
        case .failed(let error): waiter?.resume(throwing: error)
        }
    }
}
