import NIOCore
import Logging
import Synchronization

/// One turn of the offline voice. Text is cut into sentences as it arrives and each sentence is
/// queued on the shared espeak engine; the engine hands the audio back through `deliver`.
///
/// Audio goes through a `SpeechChunkQueue` rather than an `AsyncThrowingStream` continuation:
/// espeak runs far faster than real time, so seconds of audio can be waiting when a barge-in
/// comes, and `cancel()` must drop them.
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
    }

    /// Audio not yet taken by the consumer, and how the stream ends.
    private let queue = SpeechChunkQueue()

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

    /// Chunks reach `receiver` on `loop`: one hop each from the producing thread, none when the
    /// producer runs on `loop` itself (the ElevenLabs socket on the call's loop).
    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {
        queue.deliver(on: loop, to: receiver)
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
        state.withLock { $0.closed = true }
        queue.cancel()
    }

    /// The consumer's side of `chunks`.
    private func next() async throws -> SpeechChunk? {
        try await withTaskCancellationHandler {
            try await queue.next()
        } onCancel: {
            // A consumer that stops listening is a barge-in too.
            cancel()
        }
    }

    // MARK: - Called by the engine, on its thread

    var isStopped: Bool { stopped.load(ordering: .relaxed) }

    func deliver(_ chunk: SpeechChunk) {
        queue.push(chunk)
    }

    /// The turn's last sentence is out: the stream ends once the consumer has taken it all.
    func complete() {
        state.withLock { $0.closed = true }
        queue.finish()
    }

    func fail(_ error: OfflineVoiceError) {
        stopped.store(true, ordering: .relaxed)
        logger.warning("offline turn failed", metadata: ["error": "\(error)"])
        state.withLock { $0.closed = true }
        queue.fail(error)
    }
}
