import VoiceBridgeCalls

/// Records barge-in decisions (accepted or rejected, with the policy's reason) and passes every
/// observation on to the server's metrics observer.
public final class RecordingCallObserver: CallObserver {
    private let base: (any CallObserver)?
    private let recorder: CallRecorder

    public init(_ base: (any CallObserver)?, recorder: CallRecorder) {
        self.base = base
        self.recorder = recorder
    }

    public func callStarted() { base?.callStarted() }
    public func frameSent(gapNanos: Int64?) { base?.frameSent(gapNanos: gapNanos) }
    public func firstAudio(latencyNanos: Int64) { base?.firstAudio(latencyNanos: latencyNanos) }
    public func error(kind: String) { base?.error(kind: kind) }
    public func callEnded(_ reason: CallEndReason) { base?.callEnded(reason) }
    public func flowChosen(_ name: String) { base?.flowChosen(name) }

    /// Recorded as information (replay does not compare it: a replay's voice bills nothing).
    public func speechCost(_ cost: SpeechCost) {
        recorder.speechCost(cost)
        base?.speechCost(cost)
    }

    public func bargeIn(latencyNanos: Int64, accepted: Bool, reason: String) {
        recorder.bargeIn(latencyNanos: latencyNanos, accepted: accepted, reason: reason)
        base?.bargeIn(latencyNanos: latencyNanos, accepted: accepted, reason: reason)
    }
}
