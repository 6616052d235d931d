import VoiceBridgeAudio
import VoiceBridgeCarriers

/// The caller's side of the call: carrier audio in, key presses and speech events out.
/// Owns its scratch buffers so the per-frame path allocates nothing.
///
/// Both detectors run at 8 kHz (SpanDSP's DTMF receiver is narrowband): G.711 and L16 8 kHz are
/// decoded straight into the scratch, L16 16 kHz is decoded and brought down to 8 kHz by speexdsp
/// first. DTMF and speech energy all lie below 4 kHz, so nothing they need is lost.
public final class CallListener {
    public enum Event: Equatable {
        case digit(Character)
        case speechStarted(onsetMs: Int, confirmedMs: Int)
        case speechStopped(atMs: Int)
    }

    private let dtmf = DTMFDetector()
    private let speech: SpeechDetector
    private let blockSamples: Int
    private var pcm: [Int16]
    public private(set) var format: MediaFormat = .mulaw8kMono
    /// Wideband to narrowband, for a 16 kHz stream; nil at 8 kHz.
    private var downsampler: Resampler?
    private var narrowband: [Int16] = []

    /// `blockSamples` bounds the scratch: carriers send 20 ms frames, and a larger payload is
    /// processed in blocks rather than truncated.
    public init(speech configuration: SpeechDetectorConfiguration, blockSamples: Int = 320) {
        self.speech = SpeechDetector(configuration)
        self.blockSamples = blockSamples
        self.pcm = [Int16](repeating: 0, count: blockSamples)
    }

    /// Listens to a stream in `format` from now on. False when the format's rate can't be brought
    /// to 8 kHz (the dialects admit only 8 and 16 kHz).
    @discardableResult
    public func listen(to format: MediaFormat) -> Bool {
        self.format = format
        downsampler = nil
        guard format.sampleRate != 8000 else { return true }
        guard let resampler = try? Resampler(inputRate: format.sampleRate, outputRate: 8000) else { return false }
        downsampler = resampler
        narrowband.reserveCapacity(blockSamples * 8000 / format.sampleRate + 32)
        return true
    }

    public var isCallerSpeaking: Bool { speech.isSpeaking }
    /// The silence that ends the caller's speech (nil: the configured hangover).
    public func setEndOfSpeechSilence(ms: Int?) { speech.setHangover(ms: ms) }
    /// How long the caller's current speech has been voiced (see `SpeechDetector.voicedMs`).
    public var voicedMs: Int? { speech.voicedMs }

    /// Decodes one inbound payload and runs both detectors over it.
    public func process(_ payload: UnsafeRawBufferPointer, _ report: (Event) -> Void) {
        let bytesPerBlock = blockSamples * format.encoding.bytesPerSample
        var offset = 0
        pcm.withUnsafeMutableBufferPointer { out in
            while offset < payload.count {
                let end = min(payload.count, offset + bytesPerBlock)
                let count = format.decode(UnsafeRawBufferPointer(rebasing: payload[offset..<end]), into: out)
                offset = end
                guard count > 0 else { break }
                let samples = UnsafeBufferPointer(rebasing: out[0..<count])
                if let downsampler {
                    narrowband.removeAll(keepingCapacity: true)
                    downsampler.process(samples, into: &narrowband)
                    narrowband.withUnsafeBufferPointer { detect($0, report) }
                } else {
                    detect(samples, report)
                }
            }
        }
    }

    private func detect(_ samples: UnsafeBufferPointer<Int16>, _ report: (Event) -> Void) {
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

    public func reset() {
        dtmf.reset()
        speech.reset()
        downsampler?.reset()
    }
}
