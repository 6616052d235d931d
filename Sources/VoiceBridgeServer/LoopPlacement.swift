import NIOCore
import Synchronization

/// Which event loop a new connection goes to: the one carrying the least.
///
/// NIO's accept hands connections to loops in turn. Each call opens two connections in a row —
/// the voice webhook, then the media socket — so with an even number of loops every media
/// socket landed on the same parity of loop and half the loops idled. Placing by load instead
/// spreads calls whatever the pattern of connections.
///
/// A loop's load is its open connections plus its calls: a media socket counts twice, because
/// it lasts the whole call and carries 100 messages a second, while a webhook's connection is
/// gone in milliseconds. Ties go round the loops from where the last choice left off.
public final class LoopPlacement: Sendable {
    public let loops: [any EventLoop]

    private struct State {
        var connections: [Int]
        var calls: [Int]
        var cursor = 0
    }

    private let state: Mutex<State>

    public init(loops: [any EventLoop]) {
        precondition(!loops.isEmpty, "no event loops")
        self.loops = loops
        self.state = Mutex(State(connections: Array(repeating: 0, count: loops.count), calls: Array(repeating: 0, count: loops.count)))
    }

    public convenience init(group: any EventLoopGroup) {
        self.init(loops: Array(group.makeIterator()))
    }

    /// Picks the least-loaded loop for a new connection and counts the connection on it.
    public func placeConnection() -> Int {
        state.withLock { state in
            let n = state.connections.count
            var best = state.cursor % n
            var bestLoad = Int.max
            for step in 0..<n {
                let i = (state.cursor + step) % n
                let load = state.connections[i] + state.calls[i]
                if load < bestLoad {
                    best = i
                    bestLoad = load
                }
            }
            state.connections[best] += 1
            state.cursor = (best + 1) % n
            return best
        }
    }

    public func connectionClosed(onLoop index: Int) {
        state.withLock { $0.connections[index] = max(0, $0.connections[index] - 1) }
    }

    /// The index of `loop`, if it is one of ours (a test's embedded loop is not).
    public func index(of loop: any EventLoop) -> Int? {
        loops.firstIndex { $0 === loop }
    }

    public func callStarted(onLoop index: Int) {
        state.withLock { $0.calls[index] += 1 }
    }

    public func callEnded(onLoop index: Int) {
        state.withLock { $0.calls[index] = max(0, $0.calls[index] - 1) }
    }

    /// Live calls on each loop, by index.
    public var callsPerLoop: [Int] { state.withLock { $0.calls } }

    /// Open connections on each loop, by index (media sockets included).
    public var connectionsPerLoop: [Int] { state.withLock { $0.connections } }
}
