import Foundation
import NIOConcurrencyHelpers
import NIOCore
import VoiceBridgeCalls

/// What the server can ask of a live media socket from outside its event loop.
protocol LiveCallControl: AnyObject {
    /// A terminal status callback for this call arrived. Runs on the call's loop.
    func endByStatusCallback(_ status: String)
    /// SIGTERM: let the call finish, then close within the drain time. Runs on the call's loop.
    func drain()
    /// The control API's actions and listing. Run on the call's loop.
    func say(_ text: String, interruptible: Interruptible) -> Bool
    func controlHangUp() -> Bool
    var liveState: LiveCallState? { get }
    /// What the live console shows of the call; `metering` puts a meter on the call (or takes it
    /// off). Runs on the call's loop.
    func consoleSample(metering: Bool) -> ConsoleCallSample?
}

/// The live media sockets, by connection and by CallSid.
///
/// Touched once when a socket opens, once when it closes, and once per status callback; each
/// touch hops onto the call's own loop before calling into it, so calls stay confined.
final class LiveCalls: Sendable {
    private struct Entry {
        let callSid: String
        let control: NIOLoopBound<any LiveCallControl>
        let startedAt: Date
        /// The call's loop in `placement`, when it runs on one of the server's loops.
        let loopIndex: Int?

        var startedAtMs: Int64 { Int64((startedAt.timeIntervalSince1970 * 1000).rounded()) }
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var byCallSid: [String: UInt64] = [:]
        var nextID: UInt64 = 1
        var draining = false
    }

    private let state = NIOLockedValueBox(State())
    private let placementBox = NIOLockedValueBox<LoopPlacement?>(nil)

    /// Where the server's connections go; calls are counted per loop there.
    var placement: LoopPlacement? {
        get { placementBox.withLockedValue { $0 } }
        set { placementBox.withLockedValue { $0 = newValue } }
    }

    var count: Int { state.withLockedValue { $0.entries.count } }
    var isDraining: Bool { state.withLockedValue { $0.draining } }

    /// Adds a socket; nil when the server is draining (the caller then closes the socket).
    func register(callSid: String, control: any LiveCallControl, eventLoop: any EventLoop) -> UInt64? {
        let bound = NIOLoopBound(control, eventLoop: eventLoop)
        let placement = self.placement
        let loopIndex = placement?.index(of: eventLoop)
        let id: UInt64? = state.withLockedValue { state in
            guard !state.draining else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = Entry(callSid: callSid, control: bound, startedAt: Date(), loopIndex: loopIndex)
            state.byCallSid[callSid] = id
            return id
        }
        if id != nil, let placement, let loopIndex { placement.callStarted(onLoop: loopIndex) }
        return id
    }

    func remove(_ id: UInt64) {
        let entry = state.withLockedValue { state -> Entry? in
            guard let entry = state.entries.removeValue(forKey: id) else { return nil }
            if state.byCallSid[entry.callSid] == id { state.byCallSid[entry.callSid] = nil }
            return entry
        }
        if let index = entry?.loopIndex { placement?.callEnded(onLoop: index) }
    }

    /// Ends the live call of `callSid`, if any, on its own loop. Returns whether one was found.
    @discardableResult
    func endCall(callSid: String, status: String) -> Bool {
        let entry = state.withLockedValue { state in state.byCallSid[callSid].flatMap { state.entries[$0] } }
        guard let entry else { return false }
        entry.control.eventLoop.execute { entry.control.value.endByStatusCallback(status) }
        return true
    }

    /// What the control API can ask of a live call.
    enum ControlAction: Sendable {
        case say(String, Interruptible)
        case hangUp
    }

    enum ControlOutcome: Sendable, Equatable {
        case done
        case notFound
        /// The call exists but cannot do it (ended, or a call without speech).
        case refused
    }

    /// Runs a control action on the call's own loop.
    func control(callSid: String, _ action: ControlAction) async -> ControlOutcome {
        let entry = state.withLockedValue { state in state.byCallSid[callSid].flatMap { state.entries[$0] } }
        guard let entry else { return .notFound }
        let control = entry.control
        let done = try? await control.eventLoop.submit {
            switch action {
            case let .say(text, interruptible): control.value.say(text, interruptible: interruptible)
            case .hangUp: control.value.controlHangUp()
            }
        }.get()
        return done == true ? .done : .refused
    }

    /// Every live call's state, each read on its own loop.
    func states() async -> [LiveCallState] {
        let entries = state.withLockedValue { Array($0.entries.values) }
        var out: [LiveCallState] = []
        let formatter = ISO8601DateFormatter()
        for entry in entries {
            let control = entry.control
            var state = (try? await control.eventLoop.submit { control.value.liveState }.get()) ?? nil
                ?? LiveCallState(callSid: entry.callSid, streamSid: "", from: "", to: "", phase: "unknown", playing: false)
            state.startedAt = formatter.string(from: entry.startedAt)
            out.append(state)
        }
        return out.sorted { $0.startedAt < $1.startedAt }
    }

    /// Every live call as the console shows it. The calls are read a loop at a time, all of a
    /// loop's calls in one task on that loop, so a reading of a thousand calls costs a hop per
    /// event loop rather than one per call.
    /// Also returns the CPU time the readings took on the loops.
    func consoleSamples(metering: Bool) async -> (samples: [ConsoleCallSample], cpuNanos: Int64) {
        let entries = state.withLockedValue { Array($0.entries) }
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, entries: [(UInt64, Entry)])] = [:]
        for (key, entry) in entries {
            let loop = entry.control.eventLoop
            byLoop[ObjectIdentifier(loop), default: (loop, [])].entries.append((key, entry))
        }
        let readings = byLoop.values.map { loop, entries in
            loop.submit {
                let started = ThreadCPUClock.nanoseconds()
                var samples: [ConsoleCallSample] = []
                samples.reserveCapacity(entries.count)
                for (key, entry) in entries {
                    guard var sample = entry.control.value.consoleSample(metering: metering) else { continue }
                    sample.key = key
                    sample.startedAtMs = entry.startedAtMs
                    samples.append(sample)
                }
                return (samples, ThreadCPUClock.nanoseconds() - started)
            }
        }
        var out: [ConsoleCallSample] = []
        out.reserveCapacity(entries.count)
        var nanos: Int64 = 0
        for reading in readings {
            guard let (samples, cpu) = try? await reading.get() else { continue }
            out += samples
            nanos += cpu
        }
        return (out, nanos)
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
