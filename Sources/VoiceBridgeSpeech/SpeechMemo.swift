import NIOCore
import Synchronization

/// Remembers finished utterances so that a prompt every caller hears (a greeting, a menu, "sorry,
/// I didn't get that") is synthesised once, and every call plays the same bytes. The chunks'
/// arrays are shared, not copied: a thousand calls in the same greeting hold one copy of it.
///
/// Only whole-text utterances (`speak`) are memoised; streamed turns (a relay's tokens) pass
/// straight through, because their text is not known until they end. A turn that was cancelled
/// or failed is not kept. Memos over the same `SpeechCache` share one byte bound; memos whose
/// upstreams make the same audio (ElevenLabs' WebSocket and HTTP, same voice and format) share
/// entries by giving the same `variant`.
public final class SpeechMemo: SpeechSource {
    public let upstream: any SpeechSource
    public let cache: SpeechCache
    public let variant: String
    public var name: String { upstream.name }
    public func voiceName(for options: TurnOptions) -> String { upstream.voiceName(for: options) }

    public init(_ upstream: any SpeechSource, cache: SpeechCache, variant: String) {
        self.upstream = upstream
        self.cache = cache
        self.variant = variant
    }

    /// A memo with a cache of its own.
    public convenience init(_ upstream: any SpeechSource, maxBytes: Int = 64 << 20) {
        self.init(upstream, cache: SpeechCache(maxBytes: maxBytes), variant: upstream.name)
    }

    public var maxBytes: Int { cache.maxBytes }

    public var statistics: (hits: Int, misses: Int, bytes: Int) {
        let statistics = cache.statistics
        return (statistics.hits, statistics.misses, statistics.bytes)
    }

    public func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        upstream.startTurn(options)
    }

    public func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        let key = SpeechCache.Key(text: text, voice: options.voice, model: options.model, language: options.language, variant: variant)
        if let cached = cache.lookup(key) {
            return ReplayedTurn(id: options.id, chunks: cached)
        }
        let turn = upstream.speak(text, options: options)
        return RecordingTurn(inner: turn) { [cache] chunks in cache.insert(key, chunks: chunks) }
    }
}

/// A memoised utterance played back as a turn: every chunk at once, stamped with this turn's id.
private final class ReplayedTurn: SpeechTurn {
    let id: String
    private let recorded: [SpeechChunk]
    private let cancelled = CancelFlag()

    init(id: String, chunks recorded: [SpeechChunk]) {
        self.id = id
        self.recorded = recorded
    }

    var chunks: AsyncThrowingStream<SpeechChunk, any Error> {
        let (chunks, continuation) = AsyncThrowingStream<SpeechChunk, any Error>.makeStream()
        for chunk in stamped() where !cancelled.isSet { continuation.yield(chunk) }
        continuation.finish()
        return chunks
    }

    /// All of it, in this event-loop turn: the audio is already here.
    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {
        let bound = NIOLoopBound(receiver, eventLoop: loop)
        let chunks = stamped()
        let cancelled = self.cancelled
        let send = {
            for chunk in chunks where !cancelled.isSet { bound.value(.chunk(chunk)) }
            if !cancelled.isSet { bound.value(.finished) }
        }
        if loop.inEventLoop { send() } else { loop.execute(send) }
    }

    private func stamped() -> [SpeechChunk] {
        recorded.map { chunk in
            var chunk = chunk
            chunk.turnID = id
            return chunk
        }
    }

    func send(text: String) {}
    func finish() {}
    func cancel() { cancelled.set() }
}

/// Passes an upstream turn through and, if it ends normally (not cancelled, no error), hands
/// the whole utterance to `onComplete`.
private final class RecordingTurn: SpeechTurn {
    let inner: any SpeechTurn
    var charactersSent: Int { inner.charactersSent }
    private let onComplete: @Sendable ([SpeechChunk]) -> Void
    private let cancelled = CancelFlag()
    var id: String { inner.id }

    init(inner: any SpeechTurn, onComplete: @escaping @Sendable ([SpeechChunk]) -> Void) {
        self.inner = inner
        self.onComplete = onComplete
    }

    var chunks: AsyncThrowingStream<SpeechChunk, any Error> {
        let (stream, continuation) = AsyncThrowingStream<SpeechChunk, any Error>.makeStream()
        let (inner, cancelled, onComplete) = (inner, cancelled, onComplete)
        let task = Task {
            var recorded: [SpeechChunk] = []
            do {
                for try await chunk in inner.chunks {
                    recorded.append(chunk)
                    continuation.yield(chunk)
                }
                if !cancelled.isSet { onComplete(recorded) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { reason in
            if case .cancelled = reason { inner.cancel(); task.cancel() }
        }
        return stream
    }

    /// The inner turn's own delivery, remembered on the way past: no task added.
    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {
        var recorded: [SpeechChunk] = []
        let (cancelled, onComplete) = (cancelled, onComplete)
        inner.deliver(on: loop) { delivery in
            switch delivery {
            case let .chunk(chunk): recorded.append(chunk)
            case .finished: if !cancelled.isSet { onComplete(recorded) }
            case .failed: break
            }
            receiver(delivery)
        }
    }

    func send(text: String) { inner.send(text: text) }
    func finish() { inner.finish() }
    func cancel() {
        cancelled.set()
        inner.cancel()
    }
}

private final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
