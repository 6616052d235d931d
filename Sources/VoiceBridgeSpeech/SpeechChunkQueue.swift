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
    }

    private let state = Mutex(State())

    func push(_ chunk: SpeechChunk) {
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
        let waiter = state.withLock { state -> CheckedContinuation<SpeechChunk?, any Error>? in
            state.buffer.removeAll()
            state.head = 0
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
