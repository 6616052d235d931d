import Synchronization

/// Counts one client's requests in flight, so a request refused for concurrency can wait for a
/// slot instead of hammering the server (doc §6: "queue locally").
///
/// Once a response has told the account's `maximum-concurrent-requests`, new requests queue here
/// before they are sent. Other processes may share the key, so the server stays the authority:
/// a 429 is still handled by waiting for the next of our requests to finish.
final class ElevenLabsConcurrencyGate: Sendable {
    private struct State {
        var inFlight = 0
        var limit: Int?
        /// Bumped on every `leave`: a waiter that saw generation g waits for one after g.
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    var inFlight: Int { state.withLock { $0.inFlight } }
    var generation: UInt64 { state.withLock { $0.generation } }

    func learn(limit: Int) {
        guard limit > 0 else { return }
        state.withLock { $0.limit = limit }
    }

    /// Takes a slot, waiting while the known limit is reached, for at most `timeout`. After the
    /// timeout it goes ahead anyway and lets the server decide. Returns the time spent waiting.
    func enter(waitingAtMost timeout: Duration) async -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + timeout
        while true {
            let seen = state.withLock { state -> UInt64? in
                if let limit = state.limit, state.inFlight >= limit, clock.now < deadline { return state.generation }
                state.inFlight += 1
                return nil
            }
            guard let seen else { return clock.now - start }
            await waitForLeave(after: seen, until: deadline)
            if Task.isCancelled {
                state.withLock { $0.inFlight += 1 }  // The caller's `leave` balances it.
                return clock.now - start
            }
        }
    }

    /// Frees a slot; returns the generation this leave made.
    @discardableResult
    func leave() -> UInt64 {
        let (generation, waiters) = state.withLock { state -> (UInt64, [CheckedContinuation<Void, Never>]) in
            state.inFlight -= 1
            state.generation &+= 1
            defer { state.waiters.removeAll() }
            return (state.generation, Array(state.waiters.values))
        }
        for waiter in waiters { waiter.resume() }
        return generation
    }

    /// Returns once some request has left since `generation`, at `deadline`, or on cancellation.
    func waitForLeave(after generation: UInt64, until deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.nextLeave(after: generation) }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
        }
    }

    private func nextLeave(after generation: UInt64) async {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextWaiter &+= 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.generation != generation || Task.isCancelled { return true }
                    state.waiters[id] = waiter
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
