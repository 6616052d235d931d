import Dispatch
import NIOCore
import NIOEmbedded

/// An event loop that is an `EmbeddedEventLoop` but for what a subclass changes: its clock (a
/// late loop) or its timers (a loop that files callbacks without allocating). Time still moves
/// only when the test advances the embedded loop.
open class ForwardingEventLoop: EventLoop, @unchecked Sendable {
    public let base: EmbeddedEventLoop

    public init(base: EmbeddedEventLoop) {
        self.base = base
    }

    open var now: NIODeadline { base.now }
    public var inEventLoop: Bool { base.inEventLoop }

    public func execute(_ task: @escaping @Sendable () -> Void) { base.execute(task) }

    @discardableResult
    public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        base.scheduleTask(deadline: deadline, task)
    }

    @discardableResult
    public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        base.scheduleTask(in: delay, task)
    }

    @discardableResult
    open func scheduleCallback(
        at deadline: NIODeadline,
        handler: some (NIOScheduledCallbackHandler & Sendable)
    ) throws -> NIOScheduledCallback {
        try base.scheduleCallback(at: deadline, handler: handler)
    }

    @discardableResult
    public func scheduleCallback(
        in amount: TimeAmount,
        handler: some (NIOScheduledCallbackHandler & Sendable)
    ) throws -> NIOScheduledCallback {
        try scheduleCallback(at: now + amount, handler: handler)
    }

    open func cancelScheduledCallback(_ scheduledCallback: NIOScheduledCallback) {
        base.cancelScheduledCallback(scheduledCallback)
    }

    open func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        base.shutdownGracefully(queue: queue, callback)
    }

    public func next() -> any EventLoop { self }
    public func any() -> any EventLoop { self }
    public func makeIterator() -> EventLoopIterator { EventLoopIterator([self]) }
}
