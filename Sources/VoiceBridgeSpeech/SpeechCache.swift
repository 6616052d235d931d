import Synchronization

/// Finished utterances by what made them, bounded by bytes and shared by every call in the
/// process: the least recently used goes first. A lookup, an insert and an eviction each cost
/// O(1) (a dictionary into a doubly linked list kept in an array), so ten thousand distinct
/// prompts cost no more per call than ten.
///
/// Chunks are stored as given: their arrays are shared, not copied, by every call that plays them.
public final class SpeechCache: Sendable {
    /// What an utterance depends on. `variant` names the voice that made it beyond the turn's
    /// options: the service, its default voice and model, its settings and its output format.
    public struct Key: Hashable, Sendable {
        public var text: String
        public var voice: String?
        public var model: String?
        public var language: String?
        public var variant: String

        public init(text: String, voice: String?, model: String?, language: String?, variant: String) {
            self.text = text
            self.voice = voice
            self.model = model
            self.language = language
            self.variant = variant
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var evictions = 0
        public var bytes = 0
        public var entries = 0

        public init(hits: Int = 0, misses: Int = 0, evictions: Int = 0, bytes: Int = 0, entries: Int = 0) {
            self.hits = hits
            self.misses = misses
            self.evictions = evictions
            self.bytes = bytes
            self.entries = entries
        }
    }

    private struct Node {
        var key: Key
        var chunks: [SpeechChunk]
        var bytes: Int
        var newer = -1
        var older = -1
    }

    private struct Store {
        var nodes: [Node?] = []
        var free: [Int] = []
        var index: [Key: Int] = [:]
        /// Most and least recently used; -1 when empty.
        var newest = -1
        var oldest = -1
        var statistics = Statistics()

        mutating func unlink(_ slot: Int) {
            guard let node = nodes[slot] else { return }
            if node.newer >= 0 { nodes[node.newer]?.older = node.older } else { newest = node.older }
            if node.older >= 0 { nodes[node.older]?.newer = node.newer } else { oldest = node.newer }
            nodes[slot]?.newer = -1
            nodes[slot]?.older = -1
        }

        mutating func pushNewest(_ slot: Int) {
            nodes[slot]?.older = newest
            nodes[slot]?.newer = -1
            if newest >= 0 { nodes[newest]?.newer = slot }
            newest = slot
            if oldest < 0 { oldest = slot }
        }

        mutating func remove(_ slot: Int) {
            guard let node = nodes[slot] else { return }
            unlink(slot)
            index[node.key] = nil
            nodes[slot] = nil
            free.append(slot)
            statistics.bytes -= node.bytes
            statistics.entries -= 1
        }
    }

    public let maxBytes: Int
    /// Where what the cache keeps is also written, for the next start (`SpeechDiskStore.warm`).
    public let disk: SpeechDiskStore?
    private let store = Mutex(Store())

    public init(maxBytes: Int = 64 << 20, disk: SpeechDiskStore? = nil) {
        self.maxBytes = max(0, maxBytes)
        self.disk = disk
    }

    public var statistics: Statistics { store.withLock { $0.statistics } }

    /// The utterance, if held; counts a hit or a miss and makes it the most recently used.
    public func lookup(_ key: Key) -> [SpeechChunk]? {
        store.withLock { store in
            guard let slot = store.index[key], let node = store.nodes[slot] else {
                store.statistics.misses += 1
                return nil
            }
            store.statistics.hits += 1
            store.unlink(slot)
            store.pushNewest(slot)
            return node.chunks
        }
    }

    /// Keeps an utterance, evicting the least recently used until the bound holds, and writes it
    /// to `disk`. One larger than the whole bound is not kept.
    public func insert(_ key: Key, chunks: [SpeechChunk]) {
        insert(key, chunks: chunks, persist: true)
    }

    func insert(_ key: Key, chunks: [SpeechChunk], persist: Bool) {
        var bytes = 0
        for chunk in chunks { bytes += chunk.audio.count }
        guard bytes > 0, bytes <= maxBytes else { return }
        if persist { disk?.store(key, chunks: chunks) }
        store.withLock { store in
            if let slot = store.index[key] { store.remove(slot) }
            while store.statistics.bytes + bytes > maxBytes, store.oldest >= 0 {
                store.remove(store.oldest)
                store.statistics.evictions += 1
            }
            let node = Node(key: key, chunks: chunks, bytes: bytes)
            let slot: Int
            if let reused = store.free.popLast() {
                slot = reused
                store.nodes[slot] = node
            } else {
                slot = store.nodes.count
                store.nodes.append(node)
            }
            store.index[key] = slot
            store.pushNewest(slot)
            store.statistics.bytes += bytes
            store.statistics.entries += 1
        }
    }
}
