import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Prometheus

/// Feeds every open console page from one reader of the live calls.
///
/// While no page is open there is nothing here at all: no task, no timer, and no meter on any
/// call. The first page starts one polling task; each tick it reads every call on its own loop
/// (one hop per event loop, not per call: see `LiveCalls.consoleSamples`), compares the reading
/// with the last (`ConsoleBoard`) and sends only the difference, one coalesced event per tick to
/// all pages. The last page to leave stops the task, which takes the meters off the calls.
final class ConsoleHub: Sendable {
    private let liveCalls: LiveCalls
    private let metrics: BridgeMetrics
    let interval: Duration
    /// Server figures are read every this many ticks (once a second at 2 Hz).
    let statsEvery: Int
    /// A keep-alive comment after this many ticks without anything to say.
    let heartbeatEvery: Int

    private struct State {
        var pages: [UInt64: AsyncStream<ByteBuffer>.Continuation] = [:]
        /// Pages that need a whole snapshot next tick: new ones, and any that fell behind.
        var needSnapshot: Set<UInt64> = []
        var nextID: UInt64 = 1
        var polling = false
        var closed = false
    }

    private let state = NIOLockedValueBox(State())

    init(liveCalls: LiveCalls, metrics: BridgeMetrics, interval: Duration = .milliseconds(500), statsEvery: Int = 2, heartbeatEvery: Int = 30) {
        self.liveCalls = liveCalls
        self.metrics = metrics
        self.interval = interval
        self.statsEvery = max(1, statsEvery)
        self.heartbeatEvery = max(1, heartbeatEvery)
    }

    var pageCount: Int { state.withLockedValue { $0.pages.count } }

    /// A page's event stream: a snapshot at the next tick, then deltas. Ends when the page goes
    /// (the stream is dropped) or the server shuts down.
    func subscribe() -> AsyncStream<ByteBuffer> {
        // A page that stops reading cannot hold the server's memory: past this many pending
        // events the oldest go, and the page gets a fresh snapshot instead.
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(32))
        let (id, start) = state.withLockedValue { s -> (UInt64?, Bool) in
            guard !s.closed else { return (nil, false) }
            let id = s.nextID
            s.nextID += 1
            s.pages[id] = continuation
            s.needSnapshot.insert(id)
            let start = !s.polling
            s.polling = true
            return (id, start)
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in self?.leave(id) }
        if start { Task { await self.poll() } }
        return stream
    }

    private func leave(_ id: UInt64) {
        state.withLockedValue { s in
            s.pages[id] = nil
            s.needSnapshot.remove(id)
        }
    }

    /// Ends every page's stream (server shutdown): an open page must not hold the drain up.
    func close() {
        let pages = state.withLockedValue { s in
            s.closed = true
            defer { s.pages.removeAll() }
            return Array(s.pages.values)
        }
        for page in pages { page.finish() }
    }

    private func poll() async {
        var board = ConsoleBoard()
        var tick = 0
        var quietTicks = 0
        while true {
            let fresh = state.withLockedValue { s -> Set<UInt64>? in
                guard !s.pages.isEmpty else {
                    s.polling = false
                    return nil
                }
                defer { s.needSnapshot.removeAll() }
                return s.needSnapshot
            }
            guard let fresh else { break }
            let (samples, loopNanos) = await liveCalls.consoleSamples(metering: true)
            let started = ThreadCPUClock.nanoseconds()
            let stats = tick % statsEvery == 0 || !fresh.isEmpty ? currentStats() : nil
            let delta = board.update(samples, stats: stats)
            var deltaBytes = ByteBuffer()
            ConsoleEvents.delta(delta, into: &deltaBytes)
            var snapshotBytes = ByteBuffer()
            if !fresh.isEmpty { ConsoleEvents.snapshot(board, nowMs: Int64((Date().timeIntervalSince1970 * 1000).rounded()), into: &snapshotBytes) }
            quietTicks = delta.isEmpty ? quietTicks + 1 : 0
            if quietTicks >= heartbeatEvery {
                ConsoleEvents.heartbeat(into: &deltaBytes)
                quietTicks = 0
            }
            let pages = state.withLockedValue { $0.pages }
            var behind: [UInt64] = []
            for (id, page) in pages {
                let bytes = fresh.contains(id) ? snapshotBytes : deltaBytes
                guard bytes.readableBytes > 0 else { continue }
                if case .dropped = page.yield(bytes) { behind.append(id) }
            }
            if !behind.isEmpty {
                state.withLockedValue { s in for id in behind where s.pages[id] != nil { s.needSnapshot.insert(id) } }
            }
            metrics.consoleCPU.increment(by: Double(loopNanos + ThreadCPUClock.nanoseconds() - started) / 1e9)
            tick &+= 1
            try? await Task.sleep(for: interval)
        }
        // Nobody watches: the calls go back to paying nothing for the meters.
        let (_, loopNanos) = await liveCalls.consoleSamples(metering: false)
        metrics.consoleCPU.increment(by: Double(loopNanos) / 1e9)
    }

    private func currentStats() -> ConsoleStats {
        let placement = liveCalls.placement
        let text = metrics.render(activeCallCount: liveCalls.count, placement: placement)
        return ConsoleStats.parse(metrics: text, callsPerLoop: placement?.callsPerLoop ?? [])
    }
}

