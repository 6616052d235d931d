import VoiceBridgeCalls

/// A `CarrierSink` that records what the call sends, then passes it on. Only calls that are
/// recorded get one, so the hot path of the others is untouched.
public final class RecordingCarrierSink: CarrierSink {
    private let base: any CarrierSink
    private let recorder: CallRecorder

    public init(_ base: any CarrierSink, recorder: CallRecorder) {
        self.base = base
        self.recorder = recorder
    }

    public func sendMedia(_ frame: UnsafeRawBufferPointer) {
        recorder.media(frame)
        base.sendMedia(frame)
    }

    public func sendMark(_ name: String) {
        recorder.mark(name)
        base.sendMark(name)
    }

    public func sendClear() {
        recorder.clear()
        base.sendClear()
    }

    public func flush() { base.flush() }

    public var isWritable: Bool { base.isWritable }

    public var echoesMarksOnClear: Bool { base.echoesMarksOnClear }
    public var minimumMediaBytes: Int { base.minimumMediaBytes }

    public func transfer(to destination: CallTransfer) { base.transfer(to: destination) }

    public func close(_ reason: CallEndReason) {
        recorder.ended(reason)
        base.close(reason)
    }
}
