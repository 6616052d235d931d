/// The call's playout schedule and its model of the carrier's buffer.
///
/// Ticks lie on an absolute grid, `origin + k × frameDuration`, computed from an integer `k`.
/// Deadlines are never derived from "now + 20 ms": relative re-arming accumulates the timer's
/// lateness into drift, which is what makes other bridges' audio warble.
///
/// The carrier plays what it is sent in order, at real time. The clock therefore estimates the
/// carrier's buffer depth as audio sent minus audio played, where "played" advances with time
/// while anything is buffered. Mark echoes replace the estimate with the truth.
/// All times are nanoseconds on one monotonic clock (the event loop's).
public struct PlayoutClock: Sendable, Equatable {
    public let origin: Int64
    public let frameNanos: Int64
    public let leadNanos: Int64

    /// The end of the carrier's playout timeline: all audio sent, less what a `clear` discarded.
    /// Mark positions are points on this timeline.
    public private(set) var sentNanos: Int64 = 0
    /// Depth as of `depthAsOf`; it drains at real time from there.
    private var depthAtUpdate: Int64 = 0
    private var depthAsOf: Int64

    public init(origin: Int64, frameMs: Int = 20, leadMs: Int = 60) {
        precondition(frameMs > 0 && leadMs >= 0)
        self.origin = origin
        self.frameNanos = Int64(frameMs) * 1_000_000
        self.leadNanos = Int64(leadMs) * 1_000_000
        self.depthAsOf = origin
    }

    /// The deadline of grid tick `k`. Integer arithmetic: tick one million is as exact as tick one.
    public func deadline(ofTick k: Int64) -> Int64 {
        origin + k &* frameNanos
    }

    /// The first tick whose deadline is strictly after `now`.
    public func tick(after now: Int64) -> Int64 {
        now < origin ? 0 : (now - origin) / frameNanos + 1
    }

    /// The carrier's estimated buffered audio at `now`.
    public func depth(at now: Int64) -> Int64 {
        max(0, depthAtUpdate - max(0, now - depthAsOf))
    }

    /// When the carrier's buffer runs (or ran) dry, by the estimate.
    public var drainedAt: Int64 { depthAsOf + depthAtUpdate }

    /// Audio the carrier has played by `now`, by the estimate.
    public func played(at now: Int64) -> Int64 {
        sentNanos - depth(at: now)
    }

    /// How many frames to send at `now` to bring the depth up to the lead (at least one frame
    /// of lead, so that a lead shorter than a frame still plays).
    ///
    /// `onGrid`: decide as an on-time tick at the latest grid point would have. That tick would
    /// have filled the lead, which has drained since by `now − gridPoint`; counting that drain
    /// as already filled keeps a late timer, or audio arriving between ticks, from sending a
    /// pair of frames now and leaving a hole at the next tick.
    public func framesWanted(at now: Int64, onGrid: Bool = false) -> Int {
        let sinceGridPoint = onGrid && now >= origin ? (now - origin) % frameNanos : 0
        let deficit = max(leadNanos, frameNanos) - sinceGridPoint - depth(at: now)
        return deficit <= 0 ? 0 : Int((deficit + frameNanos - 1) / frameNanos)
    }

    public mutating func recordFrameSent(at now: Int64) {
        settle(at: now)
        depthAtUpdate += frameNanos
        sentNanos += frameNanos
    }

    /// `clear` empties the carrier's buffer: what was buffered will never play.
    public mutating func recordClear(at now: Int64) {
        settle(at: now)
        sentNanos -= depthAtUpdate
        depthAtUpdate = 0
    }

    /// A played mark's echo: everything sent before the mark (at `position`) has played, so the
    /// depth is what was sent after it. The echo travels back over the network, so it always
    /// makes the carrier look a little behind; acting on that jitter would skip a tick and leave
    /// the caller a 40 ms hole. Only a disagreement of a frame or more — a carrier that stalled
    /// or started late — replaces the estimate.
    public mutating func recordMarkPlayed(position: Int64, at now: Int64) {
        let reported = max(0, sentNanos - position)
        guard abs(reported - depth(at: now)) >= frameNanos else { return }
        depthAtUpdate = reported
        depthAsOf = now
    }

    private mutating func settle(at now: Int64) {
        depthAtUpdate = depth(at: now)
        depthAsOf = max(depthAsOf, now)
    }
}
