import NIOConcurrencyHelpers
import NIOCore

/// What the server can ask of a live media socket from outside its event loop.
protocol LiveCallControl: AnyObject {
    /// A terminal status callback for this call arrived. Runs on the call's loop.
    func endByStatusCallback(_ status: String)
    /// SIGTERM: let the call finish, then close within the drain time. Runs on the call's loop.
    func drain()
}

/// The live media sockets, by connection and by CallSid.
///
/// Touched once when a socket opens, once when it closes, and once per status callback; each
/// touch hops onto the call's own loop before calling into it, so calls stay confined.
final class LiveCalls: Sendable {
    private struct Entry {
        let callSid: String
        let control: NIOLoopBound<any LiveCallControl>
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var byCallSid: [String: UInt64] = [:]
        var nextID: UInt64 = 1
        var draining = false
    }

    private let state = NIOLockedValueBox(State())

    var count: Int { state.withLockedValue { $0.entries.count } }
    var isDraining: Bool { state.withLockedValue { $0.draining } }

    /// Adds a socket; nil when the server is draining (the caller then closes the socket).
    func register(callSid: String, control: any LiveCallControl, eventLoop: any EventLoop) -> UInt64? {
        let bound = NIOLoopBound(control, eventLoop: eventLoop)
        return state.withLockedValue { state in
            guard !state.draining else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = Entry(callSid: callSid, control: bound)
            state.byCallSid[callSid] = id
            return id
        }
    }

    func remove(_ id: UInt64) {
        state.withLockedValue { state in
            guard let entry = state.entries.removeValue(forKey: id) else { return }
            if state.byCallSid[entry.callSid] == id { state.byCallSid[entry.callSid] = nil }
        }
    }

    /// Ends the live call of `callSid`, if any, on its own loop. Returns whether one was found.
    @discardableResult
    func endCall(callSid: String, status: String) -> Bool {
        let entry = state.withLockedValue { state in state.byCallSid[callSid].flatMap { state.entries[$0] } }
        guard let entry else { return false }
        entry.control.eventLoop.execute { entry.control.value.endByStatusCallback(status) }
        return true
    }

    /// Stops admitting sockets and asks every live call to finish.
    func beginDrain() {
        let entries = state.withLockedValue { state -> [Entry] in
            state.draining = true
            return Array(state.entries.values)
        }
        for entry in entries {
            entry.control.eventLoop.execute { entry.control.value.drain() }
        }
    }
}
