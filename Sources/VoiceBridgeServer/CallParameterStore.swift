import NIOConcurrencyHelpers

/// Webhook parameters (From, To, CallSid, …) remembered by CallSid between the voice webhook and
/// the media socket, so the call gets them as flow variables.
///
/// Bounded and expiring: a webhook whose call never connects a socket must not leak. Entries
/// leave when taken, when they expire, or (oldest first) when the store is full.
public final class CallParameterStore: Sendable {
    private struct State {
        var entries: [String: (parameters: [String: String], expiresAt: Int64)] = [:]
        /// Insertion order for eviction; `head` skips consumed slots, compacted now and then.
        var order: [String] = []
        var head = 0
    }

    private let capacity: Int
    private let ttlSeconds: Int64
    private let clock: @Sendable () -> Int64
    private let state = NIOLockedValueBox(State())

    public init(capacity: Int, ttlSeconds: Int, clock: @escaping @Sendable () -> Int64 = StreamTokens.unixNow) {
        self.capacity = max(1, capacity)
        self.ttlSeconds = Int64(ttlSeconds)
        self.clock = clock
    }

    public func remember(callSid: String, parameters: [String: String]) {
        let now = clock()
        state.withLockedValue { state in
            Self.evictExpired(&state, now: now)
            if state.entries[callSid] == nil { state.order.append(callSid) }
            state.entries[callSid] = (parameters, now + ttlSeconds)
            while state.entries.count > capacity, state.head < state.order.count {
                state.entries[state.order[state.head]] = nil
                state.head += 1
            }
            Self.compact(&state)
        }
    }

    /// Returns and forgets the parameters of `callSid` (nil if unknown or expired).
    public func take(callSid: String) -> [String: String]? {
        let now = clock()
        return state.withLockedValue { state in
            guard let entry = state.entries.removeValue(forKey: callSid) else { return nil }
            return entry.expiresAt > now ? entry.parameters : nil
        }
    }

    public var count: Int { state.withLockedValue { $0.entries.count } }

    private static func evictExpired(_ state: inout State, now: Int64) {
        // Entries expire in insertion order (one TTL for all), so only the front needs looking at.
        while state.head < state.order.count {
            let sid = state.order[state.head]
            if let entry = state.entries[sid], entry.expiresAt > now { break }
            state.entries[sid] = nil
            state.head += 1
        }
    }

    private static func compact(_ state: inout State) {
        if state.head > 64, state.head * 2 > state.order.count {
            state.order.removeFirst(state.head)
            state.head = 0
        }
    }
}
