import VoiceBridgeAudio

/// The emulated model's ears: a session's audio in its wire format in, what it heard out. Words
/// come from `SpokenTextDecoder` (speech the phone simulator made with `SpokenTextCode`); speech
/// onsets and ends, for server VAD, come from the bridge's own `SpeechDetector`, so anything
/// voiced counts, coded or not. Audio it cannot decode (noise, real speech) yields no words.
///
/// Everything runs at 8 kHz: μ-law and pcm_8000 are decoded straight into a scratch buffer, other
/// PCM rates are brought down by speexdsp first. Sample positions count 8 kHz samples from the
/// session's first audio. Owned by one socket's event loop; the scratch buffers are reused.
final class ElevenLabsEmulatorTranscriber {
    enum Event: Equatable {
        case word(SpokenWord)
        case utteranceEnded(SpokenUtterance)
        /// Voiced energy began at this sample (reported once confirmed).
        case speechStarted(atSample: Int)
        /// Voiced energy was last above the threshold at this sample (reported a hangover later).
        case speechStopped(lastLoudSample: Int)
    }

    let format: ElevenLabsEmulatorTranscriptionSettings.AudioFormat
    private let decoder = SpokenTextDecoder()
    private let detector: SpeechDetector
    private let downsampler: Resampler?
    private var pcm: [Int16] = []
    private var narrowband: [Int16] = []
    /// A PCM sample's first byte, when a chunk ended between the two.
    private var oddByte: UInt8?
    /// Input samples (at the format's rate) received so far.
    private(set) var inputSamples = 0

    /// `vad` tunes the speech detector (the session maps the VAD query parameters onto it).
    init(format: ElevenLabsEmulatorTranscriptionSettings.AudioFormat, vad: SpeechDetectorConfiguration) {
        self.format = format
        detector = SpeechDetector(vad)
        downsampler = format.sampleRate == 8000 ? nil : try? Resampler(inputRate: format.sampleRate, outputRate: 8000)
    }

    /// 8 kHz samples heard so far.
    var samplesHeard: Int { decoder.samplesFed }

    /// Seconds of audio received, at the format's own rate.
    var secondsReceived: Double { Double(inputSamples) / Double(format.sampleRate) }

    /// The word being heard, not complete yet.
    var pendingWord: SpokenWord? { decoder.pendingWord }

    var isInUtterance: Bool { decoder.isInUtterance }

    /// How many input samples `byteCount` bytes of this format hold (a split PCM sample counts
    /// where it completes).
    func samples(inBytes byteCount: Int) -> Int {
        switch format {
        case .ulaw8000: byteCount
        case .pcm: (byteCount + (oddByte == nil ? 0 : 1)) / 2
        }
    }

    /// Hears one chunk of audio and reports what it heard, in order.
    func hear(_ bytes: UnsafeRawBufferPointer, onEvent: (Event) -> Void) {
        guard !bytes.isEmpty else { return }
        pcm.removeAll(keepingCapacity: true)
        switch format {
        case .ulaw8000:
            pcm.append(contentsOf: repeatElement(0, count: bytes.count))
            pcm.withUnsafeMutableBufferPointer { G711.decode(bytes, law: .ulaw, into: $0) }
        case .pcm:
            var index = 0
            if let low = oddByte {
                pcm.append(Int16(bitPattern: UInt16(low) | UInt16(bytes[0]) << 8))
                oddByte = nil
                index = 1
            }
            while index + 1 < bytes.count {
                pcm.append(Int16(bitPattern: UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8))
                index += 2
            }
            if index < bytes.count { oddByte = bytes[index] }
        }
        inputSamples += pcm.count
        if let downsampler {
            narrowband.removeAll(keepingCapacity: true)
            pcm.withUnsafeBufferPointer { downsampler.process($0, into: &narrowband) }
            narrowband.withUnsafeBufferPointer { listen($0, onEvent) }
        } else {
            pcm.withUnsafeBufferPointer { listen($0, onEvent) }
        }
    }

    /// Ends an utterance in progress as broken off.
    func finish(onEvent: (Event) -> Void) {
        decoder.finish { if let event = Self.event($0) { onEvent(event) } }
    }

    private func listen(_ samples: UnsafeBufferPointer<Int16>, _ onEvent: (Event) -> Void) {
        // The detector reports in ms since its first sample; both count from the session's start.
        detector.process(samples) { event in
            switch event {
            case .started(let onsetMs, _): onEvent(.speechStarted(atSample: onsetMs * 8))
            case .stopped(let atMs): onEvent(.speechStopped(lastLoudSample: max(0, atMs - detector.configuration.hangoverMs) * 8))
            }
        }
        decoder.feed(samples) { if let event = Self.event($0) { onEvent(event) } }
    }

    private static func event(_ event: SpokenTextEvent) -> Event? {
        switch event {
        case .utteranceStarted: nil
        case .word(let word): .word(word)
        case .utteranceEnded(let utterance): .utteranceEnded(utterance)
        }
    }
}
