import Foundation
import Logging
import NIOCore
import Synchronization

/// Speaks with the first source that works: ElevenLabs WebSocket → ElevenLabs HTTP → the offline
/// voice, in the order given. A call never goes silent because the upstream failed.
///
/// A turn that fails before any audio starts again on the next source with its whole text; one
/// that fails after some audio goes on there with the text its alignment says was not yet spoken
/// (`SpokenTextTracker`), so nothing is lost and nothing is said twice. Text that arrives later
/// goes to whichever source speaks the turn by then.
///
/// A source that fails for a reason that won't go away soon (a bad key, an exhausted quota, no
/// connection) is skipped for `breakerCooldown`: the call's later turns go straight to the next
/// one. The last source is never skipped. Each fallback is logged and reported to `onFallback`.
public final class FallbackSpeechSource: ClosableSpeechSource {
    /// One move from a failed source to the next.
    public struct Fallback: Sendable, Equatable {
        public var turnID: String
        public var from: String
        /// nil: no source was left, the turn failed.
        public var to: String?
        public var error: String
        /// Whether the failed source had already delivered audio for the turn.
        public var afterAudio: Bool
        /// Characters the next source is given to say (the unspoken rest).
        public var remainingCharacters: Int
        /// Whether the failed source is now skipped for a while.
        public var trippedBreaker: Bool
    }

    public let sources: [any SpeechSource]
    public let breakerCooldown: Duration
    public var name: String { "fallback(" + sources.map(\.name).joined(separator: ",") + ")" }

    /// The first source's: only a source that bills speaks with a voice worth counting, and a
    /// fallback's offline voice sends nothing.
    public func voiceName(for options: TurnOptions) -> String { sources.first?.voiceName(for: options) ?? name }

    private let logger: Logger
    private let onFallback: (@Sendable (Fallback) -> Void)?
    private let state = Mutex(State())

    private struct State {
        var skipUntil: [Int: ContinuousClock.Instant] = [:]
        var fallbacks = 0
    }

    public init(
        _ sources: [any SpeechSource],
        breakerCooldown: Duration = .seconds(30),
        logger: Logger = Logger(label: "voicebridge.speech.fallback"),
        onFallback: (@Sendable (Fallback) -> Void)? = nil
    ) {
        precondition(!sources.isEmpty, "a fallback chain needs a source")
        self.sources = sources
        self.breakerCooldown = breakerCooldown
        self.logger = logger
        self.onFallback = onFallback
    }

    /// Fallbacks so far.
    public var fallbackCount: Int { state.withLock { $0.fallbacks } }

    /// The sources a turn starting now would try, in order (indices into `sources`).
    public var availableSources: [Int] {
        let now = ContinuousClock.now
        return state.withLock { s in
            sources.indices.filter { i in i == sources.count - 1 || (s.skipUntil[i].map { now >= $0 } ?? true) }
        }
    }

    public func startTurn(_ options: TurnOptions) -> any SpeechTurn {
        FallbackTurn(options: options, chain: self, wholeText: nil)
    }

    public func speak(_ text: String, options: TurnOptions) -> any SpeechTurn {
        FallbackTurn(options: options, chain: self, wholeText: text)
    }

    public func prepare() {
        for source in sources {
            (source as? any ClosableSpeechSource)?.prepare()
        }
    }

    public func close() {
        for source in sources {
            (source as? any ClosableSpeechSource)?.close()
        }
    }

    // MARK: - Called by turns

    /// The next source to try after `index` (or the first, for nil).
    fileprivate func nextSource(after index: Int?) -> Int? {
        let available = availableSources
        guard let index else { return available.first }
        return available.first { $0 > index }
    }

    fileprivate func failed(_ index: Int, error: any Error, fallback: Fallback) {
        let trip = index < sources.count - 1 && Self.shouldTrip(error)
        var fallback = fallback
        fallback.trippedBreaker = trip
        state.withLock { s in
            s.fallbacks += 1
            if trip { s.skipUntil[index] = ContinuousClock.now + breakerCooldown }
        }
        logger.warning("speech source failed; falling back", metadata: [
            "turn": "\(fallback.turnID)", "from": "\(fallback.from)", "to": "\(fallback.to ?? "none")",
            "error": "\(fallback.error)", "afterAudio": "\(fallback.afterAudio)",
            "remainingCharacters": "\(fallback.remainingCharacters)", "breaker": "\(trip ? "tripped" : "closed")",
        ])
        onFallback?(fallback)
    }

    /// Failures that will repeat on the next turn: credentials, quota, no connection at all.
    static func shouldTrip(_ error: any Error) -> Bool {
        switch error {
        case let error as ElevenLabsWebSocketError:
            if error.isAuthenticationOrQuota { return true }
            if case .connectFailed = error { return true }
            if case .handshakeRefused = error { return true }
            return false
        case let error as ElevenLabsHTTPError:
            switch error {
            case .invalidAPIKey, .quotaExceeded, .unauthorized, .forbidden, .invalidConfiguration: return true
            case .transport(_, _, let afterAudio): return !afterAudio
            default: return false
            }
        default:
            return false
        }
    }
}

/// One turn across the chain, on one source after another.
///
/// The first source starts at once. A call takes the audio with `deliver(on:to:)`: each source's
/// chunks pass straight through on the call's loop, and a failure moves to the next source right
/// there. `chunks` (for everything else) runs the same moves from a driver task.
private final class FallbackTurn: SpeechTurn {
    let id: String
    private let options: TurnOptions
    private let chain: FallbackSpeechSource
    private let output = SpeechChunkQueue()
    private let state: Mutex<State>
    private let driver = Mutex<Task<Void, Never>?>(nil)

    private struct State {
        /// Text given to the current source (or waiting for the first one), and what of it was spoken.
        var tracker = SpokenTextTracker()
        var index: Int?
        var inner: (any SpeechTurn)?
        /// Every source's turn so far: what each was sent counts, whichever spoke in the end.
        var attempted: [any SpeechTurn] = []
        var finished: Bool
        var cancelled = false
        var wholeText: Bool
    }

    /// What follows a source's failure.
    private enum Next {
        case retry(any SpeechTurn)
        /// The turn is over: nil, everything was said; else it failed with this error.
        case end((any Error)?)
        case cancelled
    }

    init(options: TurnOptions, chain: FallbackSpeechSource, wholeText: String?) {
        id = options.id
        self.options = options
        self.chain = chain
        var initial = State(finished: wholeText != nil, wholeText: wholeText != nil)
        if let wholeText { initial.tracker.sent(wholeText) }
        initial.index = chain.nextSource(after: nil)
        state = Mutex(initial)
        _ = startCurrent()
    }

    var chunks: AsyncThrowingStream<SpeechChunk, any Error> {
        driver.withLock { task in
            if task == nil { task = Task { [self] in await run() } }
        }
        return AsyncThrowingStream { [self] in
            try await withTaskCancellationHandler {
                try await output.next()
            } onCancel: {
                cancel()
            }
        }
    }

    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {
        let inner = state.withLock { s -> (any SpeechTurn)?? in s.cancelled ? nil : .some(s.inner) }
        guard let inner else { return }
        guard let inner else { return receiver(.failed(Self.noSource)) }
        attach(inner, on: loop, to: receiver)
    }

    /// Passes `inner`'s audio on; on its failure, goes on with the next source.
    private func attach(_ inner: any SpeechTurn, on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {
        var deliveredAudio = false
        inner.deliver(on: loop) { [self] delivery in
            switch delivery {
            case let .chunk(chunk):
                guard took(chunk) else { return }
                if !chunk.audio.isEmpty { deliveredAudio = true }
                receiver(.chunk(chunk))
            case .finished:
                // A source that stops early without an error has said all it will: done.
                if !isCancelled { receiver(.finished) }
            case let .failed(error):
                switch failover(error, deliveredAudio: deliveredAudio) {
                case let .retry(next): attach(next, on: loop, to: receiver)
                case .end(nil): receiver(.finished)
                case let .end(error?): receiver(.failed(error))
                case .cancelled: break
                }
            }
        }
    }

    func send(text: String) {
        state.withLock { s in
            guard !s.finished, !s.cancelled else { return }
            s.tracker.sent(text)
            s.inner?.send(text: text)
        }
    }

    func finish() {
        state.withLock { s in
            guard !s.finished, !s.cancelled else { return }
            s.finished = true
            s.inner?.finish()
        }
    }

    func cancel() {
        let inner = state.withLock { s -> (any SpeechTurn)? in
            s.cancelled = true
            defer { s.inner = nil }
            return s.inner
        }
        inner?.cancel()
        output.cancel()
        driver.withLock { $0?.cancel() }
    }

    private var isCancelled: Bool { state.withLock { $0.cancelled } }

    var charactersSent: Int {
        state.withLock { s in s.attempted.reduce(0) { $0 + $1.charactersSent } }
    }

    /// Counts a chunk as spoken; false once the turn is cancelled.
    private func took(_ chunk: SpeechChunk) -> Bool {
        state.withLock { s in
            guard !s.cancelled else { return false }
            s.tracker.delivered(chunk)
            return true
        }
    }

    /// Starts the current source with everything not yet spoken; later text follows through `send`.
    private func startCurrent() -> (any SpeechTurn)? {
        state.withLock { s -> (any SpeechTurn)? in
            guard !s.cancelled, let index = s.index else { return nil }
            let source = chain.sources[index]
            let text = s.tracker.text
            let inner: any SpeechTurn
            if s.wholeText {
                inner = source.speak(text, options: options)
            } else {
                inner = source.startTurn(options)
                if !text.isEmpty { inner.send(text: text) }
                if s.finished { inner.finish() }
            }
            s.inner = inner
            s.attempted.append(inner)
            return inner
        }
    }

    /// The current source failed: on to the next one with the unspoken rest, or the end.
    private func failover(_ error: any Error, deliveredAudio: Bool) -> Next {
        let moved = state.withLock { s -> (current: Int, rest: String, next: Int?, finished: Bool)? in
            guard !s.cancelled, let current = s.index else { return nil }
            let rest = s.tracker.unspoken
            s.tracker = SpokenTextTracker()
            s.tracker.sent(rest)
            s.inner = nil
            let next = chain.nextSource(after: current)
            s.index = next
            return (current, rest, next, s.finished)
        }
        guard let moved else { return .cancelled }
        chain.failed(moved.current, error: error, fallback: .init(
            turnID: id, from: chain.sources[moved.current].name, to: moved.next.map { chain.sources[$0].name },
            error: "\(error)", afterAudio: deliveredAudio, remainingCharacters: moved.rest.count, trippedBreaker: false
        ))
        if moved.finished && moved.rest.isEmpty { return .end(nil) }  // It failed after its last word.
        guard moved.next != nil else { return .end(error) }
        guard let next = startCurrent() else { return .cancelled }
        return .retry(next)
    }

    private static let noSource = ElevenLabsWebSocketError.invalidConfiguration("no speech source available")

    /// `chunks`' driver: the same moves, reading each source's stream.
    private func run() async {
        guard var inner = state.withLock({ $0.inner }) else {
            if !isCancelled { output.fail(Self.noSource) }
            return
        }
        while true {
            var deliveredAudio = false
            do {
                for try await chunk in inner.chunks {
                    guard took(chunk) else { return }
                    if !chunk.audio.isEmpty { deliveredAudio = true }
                    output.push(chunk)
                }
                output.finish()
                return
            } catch {
                switch failover(error, deliveredAudio: deliveredAudio) {
                case let .retry(next): inner = next
                case .end(nil): return output.finish()
                case let .end(error?): return output.fail(error)
                case .cancelled: return
                }
            }
        }
    }
}
