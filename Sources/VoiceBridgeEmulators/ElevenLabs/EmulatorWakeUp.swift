import NIOCore

/// A socket handler's one wake-up at its session's next deadline (the text-to-speech and the
/// speech-to-text handlers both keep their sessions pure and wake them this way). Scheduled
/// again only when the deadline moves, so a handler can ask after every message.
struct EmulatorWakeUp {
    private var task: Scheduled<Void>?
    private var deadline: NIODeadline?

    /// Wakes at `deadline` (nil: not at all), calling `fire` on the loop with the deadline it was
    /// set for. `fire` should call `fired()` first.
    mutating func arm(_ deadline: NIODeadline?, on loop: any EventLoop, _ fire: @escaping (NIODeadline) -> Void) {
        guard deadline != self.deadline else { return }
        cancel()
        self.deadline = deadline
        guard let deadline else { return }
        task = loop.assumeIsolated().scheduleTask(deadline: deadline) { fire(deadline) }
    }

    /// The wake-up ran: the next `arm` schedules afresh.
    mutating func fired() {
        task = nil
        deadline = nil
    }

    mutating func cancel() {
        task?.cancel()
        fired()
    }
}
