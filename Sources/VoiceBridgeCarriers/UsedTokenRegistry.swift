/// Remembers which tokens were already used, so each is accepted once.
///
/// An entry is needed only until its token expires (after that `verify` refuses the token
/// anyway), so entries are dropped at expiry and memory stays bounded by the tokens live at
/// once. `capacity` is a hard cap on top of that: when full, new tokens are refused rather
/// than evicting live entries, which would reopen them to replay.
///
/// Not synchronized; the owner confines it (an actor, a lock, or one event loop).
public struct UsedTokenRegistry: Sendable {
    public let capacity: Int
    private var expiries: [String: Int64] = [:]
    /// Min-heap on expiry, so forgetting expired entries costs O(log n) each.
    private var heap: [(expiresAt: Int64, id: String)] = []

    public init(capacity: Int = 100_000) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var count: Int { expiries.count }

    /// Records `id` as used. Returns true the first time for a live token, false if it was
    /// already used, has expired, or the registry is full.
    public mutating func consume(_ id: String, expiresAt: Int64, now: Int64) -> Bool {
        forgetExpired(now: now)
        guard expiresAt > now, expiries[id] == nil, expiries.count < capacity else { return false }
        expiries[id] = expiresAt
        heap.append((expiresAt, id))
        siftUp(heap.count - 1)
        return true
    }

    /// Whether `id` is recorded and not yet expired.
    public mutating func contains(_ id: String, now: Int64) -> Bool {
        forgetExpired(now: now)
        return expiries[id] != nil
    }

    public mutating func forgetExpired(now: Int64) {
        while let first = heap.first, first.expiresAt <= now {
            expiries[first.id] = nil
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                siftDown(0)
            }
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].expiresAt < heap[parent].expiresAt else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].expiresAt < heap[smallest].expiresAt { smallest = left }
            if right < heap.count, heap[right].expiresAt < heap[smallest].expiresAt { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
