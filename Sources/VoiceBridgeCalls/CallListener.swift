import VoiceBridgeAudio

/// The caller's side of the call: μ-law in, key presses and speech events out.
/// Owns its scratch buffer so the per-frame path allocates nothing.
public final class CallListener {
    public enum Event: Equatable {
        case digit(Character)
        case speechStarted(onsetMs: Int, confirmedMs: Int)
        case speechStopped(atMs: Int)
    }

    private let dtmf = DTMFDetector()
    private let speech: SpeechDetector
    private var pcm: [Int16]
    private var speechStartMs = 0

    /// `blockSamples` bounds the scratch: Twilio sends 160-byte frames, and a larger payload is
    /// processed in blocks rather than truncated.
    public init(speech configuration: SpeechDetectorConfiguration, blockSamples: Int = 320) {
        self.speech = SpeechDetector(configuration)
        self.pcm = [Int16](repeating: 0, count: blockSamples)
    }

    public var isCallerSpeaking: Bool { speech.isSpeaking }
    /// How long the caller's current speech has been voiced (see `SpeechDetector.voicedMs`).
    public var voicedMs: Int? { speech.voicedMs }

    /// Decodes one inbound payload and runs both detectors over it.
    public func process(_ payload: UnsafeRawBufferPointer, _ report: (Event) -> Void) {
        guard let base = payload.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var offset = 0
        pcm.withUnsafeMutableBufferPointer { out in
            while offset < payload.count {
                let count = min(payload.count - offset, out.count)
                G711.decode(UnsafeBufferPointer(start: base + offset, count: count), law: .ulaw, into: out)
                offset += count
                let samples = UnsafeBufferPointer(rebasing: out[0..<count])
                dtmf.process(samples) { report(.digit($0.digit)) }
                switch speech.process(samples) {
                case let .started(onset, confirmed)?:
                    report(.speechStarted(onsetMs: onset, confirmedMs: confirmed))
                case let .stopped(at)?:
                    report(.speechStopped(atMs: at))
                case nil:
                    break
                }
            }
        }
    }

    public func reset() {
        dtmf.reset()
        speech.reset()
    }
}
