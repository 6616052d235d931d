import NIOCore
import Synchronization

/// The playout timers of every call on one event loop: one timer per grid phase, not one per call.
///
/// Calls anchor their grids on whole milliseconds, so with 20 ms frames the calls of a loop share
/// at most 20 deadlines at a time. A wheel keeps one `NIOScheduledCallback` per distinct
/// deadline and a plain array of the calls due then; when it fires, each call ticks in turn. With
/// 1,500 calls on a loop that is 1,000 timer wake-ups a second instead of 75,000, and no
/// scheduled task per call per tick.
///
/// Cancelling is lazy: a call that stops ticking just forgets its deadline (`Call.wheelDeadline`)
/// and ignores the wake-up when it comes, so stopping costs nothing and nobody searches an array.
///
/// Confined to its event loop like the calls on it.
public final class PlayoutWheel {
    private struct Slot {
        var deadline: Int64
        var calls: [Call]
        var timer: NIOScheduledCallback?
    }

    public let eventLoop: any EventLoop
    private var slots: [Slot] = []
    /// Emptied call arrays, kept with their capacity for the next slot.
    private var spare: [[Call]] = []

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Calls due at `deadline` wake up then, in the order they were scheduled.
    func schedule(_ call: Call, at deadline: Int64) {
        if let i = slot(at: deadline) {
            slots[i].calls.append(call)
            return
        }
        var calls = spare.popLast() ?? []
        calls.append(call)
        let timer = try? eventLoop.scheduleCallback(
            at: .uptimeNanoseconds(UInt64(deadline)),
            handler: WheelHandler(wheel: self, deadline: deadline)
        )
        slots.append(Slot(deadline: deadline, calls: calls, timer: timer))
    }

    fileprivate func fire(_ deadline: Int64) {
        guard let i = slot(at: deadline) else { return }
        var due = slots[i].calls
        slots[i].calls = []
        slots.swapAt(i, slots.count - 1)
        slots.removeLast()
        var k = 0
        while k < due.count {
            due[k].wheelFired(deadline)
            k += 1
        }
        due.removeAll(keepingCapacity: true)
        spare.append(due)
    }

    /// Index loops, not `firstIndex(where:)`: a debug build allocates for the generic call, and
    /// the allocation test runs in a debug build.
    private func slot(at deadline: Int64) -> Int? {
        var i = 0
        while i < slots.count {
            if slots[i].deadline == deadline { return i }
            i += 1
        }
        return nil
    }

    /// Deadlines with a timer armed (for tests and metrics).
    public var armedDeadlines: Int { slots.count }

    /// The wheel of `eventLoop`, made on first use and shared by its calls. The calls and pending
    /// timers keep a wheel alive, and a wheel keeps its loop, so a loop's identity cannot pass to
    /// another loop while its entry here still answers; a replay's or a test's short-lived loops
    /// leave only an empty entry, swept as the registry grows.
    public static func shared(on eventLoop: any EventLoop) -> PlayoutWheel {
        let key = ObjectIdentifier(eventLoop)
        return registry.withLock { wheels in
            if let wheel = wheels[key]?.wheel { return wheel }
            if wheels.count >= 64 { wheels = wheels.filter { $0.value.wheel != nil } }
            let wheel = PlayoutWheel(eventLoop: eventLoop)
            wheels[key] = WeakWheel(wheel: wheel)
            return wheel
        }
    }

    private static let registry = Mutex<[ObjectIdentifier: WeakWheel]>([:])
}

/// Wheels cross threads only inside the registry; each is used on its own loop alone.
private struct WeakWheel: @unchecked Sendable {
    weak var wheel: PlayoutWheel?
}

/// Two words, so NIO stores it without boxing. It holds the wheel until the timer has fired.
private struct WheelHandler: NIOScheduledCallbackHandler, @unchecked Sendable {
    let wheel: PlayoutWheel
    let deadline: Int64
    func handleScheduledCallback(eventLoop: some EventLoop) {
        wheel.fire(deadline)
    }
}
