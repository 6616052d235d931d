import NIOCore
import Synchronization

/// Remembers finished utterances so that a prompt every caller hears (a greeting, a menu) is
/// synthesised once, and every call plays the same bytes. The chunks' arrays are shared, not
/// copied: a thousand calls in the same greeting hold one copy of it.
///
/// Only whole-text utterances (`speak`) are memoised; streamed turns pass straight through,
/// because their text is not known until they end.
public final class SpeechMemo: SpeechSource {
    public let upstream: any SpeechSource
    public let maxBytes: Int
    public var name: String { upstream.name }

    private struct Key: Hashable {
        let text: String
        let voice: String?
        let model: String?
        let language: String?
    }

    private struct Store {
        var entries: [Key: (chunks: [SpeechChunk], bytes: Int, lastUse: UInt64)] = [:]
        var totalBytes = 0
        var clock: UInt64 = 0
        var hits = 0
        var misses = 0
    }

    private let store = Mutex(Store())

    public init(_ upstream: any SpeechSource, maxBytes: Int = 64 << 20) {
        self.upstream = upstream
        self.maxBytes = maxBytes
    }

    public var statistics: (hits: Int, misses: Int, bytes: Int) {
        store.withLock { ($0.hits, $0.misses, $0.totalBytes) }
    }

    public func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        upstream.startTurn(options)
    }

    public func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        let key = Key(text: text, voice: options.voice, model: options.model, language: options.language)
        let cached: [SpeechChunk]? = store.withLock { s in
            s.clock += 1
            guard var entry = s.entries[key] else {
                s.misses += 1
                return nil
            }
            s.hits += 1
            entry.lastUse = s.clock
            s.entries[key] = entry
            return entry.chunks
        }
        if let cached {
            return ReplayedTurn(id: options.id, chunks: cached)
        }
        let turn = upstream.speak(text, options: options)
        return RecordingTurn(inner: turn) { [weak self] chunks in self?.remember(key, chunks) }
    }

    private func remember(_ key: Key, _ chunks: [SpeechChunk]) {
        let bytes = chunks.reduce(0) { $0 + $1.audio.count }
        guard bytes > 0, bytes <= maxBytes else { return }
        store.withLock { s in
            s.clock += 1
            if let old = s.entries[key] { s.totalBytes -= old.bytes }
            s.entries[key] = (chunks, bytes, s.clock)
            s.totalBytes += bytes
            // Least recently used goes first.
            while s.totalBytes > maxBytes, let victim = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                s.totalBytes -= victim.value.bytes
                s.entries[victim.key] = nil
            }
        }
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
