import NIOCore
import Synchronization

/// The consumer's side of a turn: chunks waiting to be taken, and how the turn ends.
///
/// A plain `AsyncThrowingStream` continuation would do, except for a barge-in: its `finish()`
/// still hands out everything buffered, and an HTTP stream runs ahead of real time, so seconds of
/// audio could be waiting. `cancel()` here drops them, and nothing reaches the consumer after it.
final class SpeechChunkQueue: Sendable {
    private enum Ending {
        case finished
        case failed(any Error)
    }

    private struct State {
        var buffer: [SpeechChunk] = []
        var head = 0
        /// How the stream ends once the buffer is drained; nil while audio may still come.
        var ending: Ending?
        /// The consumer, parked while the buffer is empty.
        var waiter: CheckedContinuation<SpeechChunk?, any Error>?
        /// The consumer's loop and receiver, once it asked for delivery instead of `next()`.
        var receiver: DirectReceiver?
    }

    /// A consumer on an event loop: called directly from that loop, reached by one hop otherwise.
    struct DirectReceiver: Sendable {
        let loop: any EventLoop
        let receiver: NIOLoopBound<(SpeechDelivery) -> Void>
        let queue: SpeechChunkQueue

        func send(_ delivery: SpeechDelivery) {
            if loop.inEventLoop {
                queue.counters.direct.add(1, ordering: .relaxed)
                receiver.value(delivery)
            } else {
                queue.counters.hopped.add(1, ordering: .relaxed)
                let (receiver, queue) = (receiver, queue)
                loop.execute {
                    // A cancel that ran on the loop meanwhile wins: nothing reaches the consumer after it.
                    guard !queue.isCancelled else { return }
                    receiver.value(delivery)
                }
            }
        }
    }

    let counters: SpeechDeliveryCounters
    /// Set by `cancel()`; a delivery that hopped checks it on arrival.
    private let cancelled = Atomic<Bool>(false)
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    init(counters: SpeechDeliveryCounters = SpeechDeliveryCounters()) {
        self.counters = counters
    }

    /// Switches to pushing: whatever is buffered, then every later chunk and the ending, go to
    /// `receiver` on `loop`.
    func deliver(on loop: any EventLoop, to receiver: @escaping (SpeechDelivery) -> Void) {
        let direct = DirectReceiver(loop: loop, receiver: NIOLoopBound(receiver, eventLoop: loop), queue: self)
        let (buffered, ending) = state.withLock { state -> ([SpeechChunk], Ending?) in
            precondition(state.waiter == nil && state.receiver == nil, "a turn's chunks has one consumer")
            let buffered = Array(state.buffer[state.head...])
            state.buffer = []
            state.head = 0
            if state.ending == nil { state.receiver = direct }
            return (buffered, state.ending)
        }
        guard !isCancelled else { return }
        for chunk in buffered { direct.send(.chunk(chunk)) }
        switch ending {
        case .finished: direct.send(.finished)
        case .failed(let error): direct.send(.failed(error))
        case nil: break
        }
    }

    private let state = Mutex(State())

    func push(_ chunk: SpeechChunk) {
        let (waiter, direct) = state.withLock { state -> (CheckedContinuation<SpeechChunk?, any Error>?, DirectReceiver?) in
            guard state.ending == nil else { return (nil, nil) }
            if let receiver = state.receiver { return (nil, receiver) }
            guard let waiter = state.waiter else {
                state.buffer.append(chunk)
                return (nil, nil)
            }
            state.waiter = nil
            return (waiter, nil)
        }
        if let direct {
            direct.send(.chunk(chunk))
        } else {
            waiter?.resume(returning: chunk)
        }
    }

    /// Everything is pushed: the stream ends once the consumer has taken it all.
    func finish() {
        end(.finished)
    }

    /// The stream throws `error` once the consumer has taken what came before it.
    func fail(_ error: any Error) {
        end(.failed(error))
    }

    /// Ends the stream now, dropping whatever the consumer has not taken. Idempotent.
    func cancel() {
        cancelled.store(true, ordering: .relaxed)
        let waiter = state.withLock { state -> CheckedContinuation<SpeechChunk?, any Error>? in
            state.buffer.removeAll()
            state.head = 0
            state.receiver = nil  // Lets go of the consumer (it holds the turn: a cycle otherwise).
            state.ending = .finished
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next chunk, nil at the end; throws the failure, once.
    func next() async throws -> SpeechChunk? {
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<SpeechChunk?, any Error>) in
            let ready = state.withLock { state -> Result<SpeechChunk?, any Error>? in
                if state.head < state.buffer.count {
                    let chunk = state.buffer[state.head]
                    state.head += 1
                    if state.head == state.buffer.count {
                        state.buffer.removeAll(keepingCapacity: true)
                        state.head = 0
                    }
                    return .success(chunk)
                }
                switch state.ending {
                case .finished:
                    return .success(nil)
                case .failed(let error):
                    state.ending = .finished  // Throw once; the stream is over after that.
                    return .failure(error)
                case nil:
                    precondition(state.waiter == nil, "a turn's chunks has one consumer")
                    state.waiter = waiter
                    return nil
                }
            }
            if let ready { waiter.resume(with: ready) }
        }
    }

    private func end(_ ending: Ending) {
        let direct = state.withLock { state -> DirectReceiver? in
            guard state.ending == nil, let receiver = state.receiver else { return nil }
            state.ending = .finished
            state.receiver = nil
            return receiver
        }
        if let direct {
            switch ending {
            case .finished: direct.send(.finished)
            case .failed(let error): direct.send(.failed(error))
            }
            return
        }
        let waiter = state.withLock { state -> CheckedContinuation<SpeechChunk?, any Error>? in
            guard state.ending == nil else { return nil }
            state.ending = ending
            if case .failed = ending, state.waiter != nil { state.ending = .finished }  // Thrown right now.
            defer { state.waiter = nil }
            return state.waiter  // Only parked while the buffer is empty.
        }
        switch ending {
        case .finished: waiter?.resume(returning: nil)
        case .failed(let error): waiter?.resume(throwing: error)
        }
    }
}

/// How a source's chunks reached their consumers: in the producer's own event-loop turn, or by a
/// hop to the consumer's loop. Tests read it to show the one-loop path.
public final class SpeechDeliveryCounters: Sendable {
    let direct = Atomic<Int>(0)
    let hopped = Atomic<Int>(0)

    public init() {}

    public var directDeliveries: Int { direct.load(ordering: .relaxed) }
    public var hoppedDeliveries: Int { hopped.load(ordering: .relaxed) }
}
