import Synchronization
import VoiceBridgeAudio
import VoiceBridgeCarriers
import VoiceBridgeSpeech

/// The caller's side of the audio, prepared once and shared by every simulated call: coded in the
/// stream's format (μ-law 8 kHz unless converted), read in 20 ms frames; frames past the end are
/// silence.
public final class CallerTrack: Sendable {
    public let format: MediaFormat
    public let frameBytes: Int
    private let silenceFrame: [UInt8]
    /// The audio, padded with silence to whole frames.
    public let bytes: [UInt8]
    /// The caller's audio as linear PCM at 8 kHz, when the track was built from it: what other
    /// formats are coded from, so they don't carry μ-law's noise.
    private let pcm8k: [Int16]?
    private let conversions = Mutex<[MediaFormat: CallerTrack]>([:])
    public var frameCount: Int { bytes.count / frameBytes }

    public init(bytes: [UInt8], format: MediaFormat, pcm8k: [Int16]? = nil) {
        self.format = format
        frameBytes = format.frameBytes
        silenceFrame = [UInt8](repeating: format.silenceByte, count: frameBytes)
        let padding = (frameBytes - bytes.count % frameBytes) % frameBytes
        self.bytes = bytes + [UInt8](repeating: format.silenceByte, count: padding)
        self.pcm8k = pcm8k
    }

    public convenience init(ulaw: [UInt8]) {
        self.init(bytes: ulaw, format: .mulaw8kMono)
    }

    /// The audio, μ-law (for a μ-law track).
    public var ulaw: [UInt8] { bytes }

    public static let silence = CallerTrack(ulaw: [])

    /// The same audio in `target`, coded once per format and kept.
    public func converted(to target: MediaFormat) -> CallerTrack {
        if target == format { return self }
        return conversions.withLock { cache in
            if let done = cache[target] { return done }
            let pcm = pcm8k ?? format.decode(bytes)
            let coded: [UInt8]
            if target.sampleRate == 8000 {
                coded = target.encode(pcm)
            } else {
                // Upsampled: a wideband call's caller still speaks narrowband audio.
                let narrow = MediaFormat.l16LittleEndian(8000)
                let converter = SpeechAudioConverter(target: target)
                coded = ((try? converter.convert(narrow.encode(pcm), from: narrow)) ?? []) + converter.finish()
            }
            let track = CallerTrack(bytes: coded, format: target)
            cache[target] = track
            return track
        }
    }

    /// Calls `body` with frame `index` (0-based).
    @inline(__always)
    func withFrame<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if index < frameCount {
            return bytes.withUnsafeBytes {
                body(UnsafeRawBufferPointer(rebasing: $0[(index * frameBytes)..<((index + 1) * frameBytes)]))
            }
        }
        return silenceFrame.withUnsafeBytes(body)
    }

    /// Builds the caller's audio: `--caller-wav` from 0, each `--speak` file mixed in at its time,
    /// each `--say` text as `SpokenTextCode` speech (-17 dBm0) from its time, and, with in-band
    /// DTMF, each key's tone (100 ms, -10 dBm0 per component) mixed in at its time.
    public static func build(callerWAV: String?, script: CallScript) throws(SimulatorError) -> CallerTrack {
        var mix: [Int32] = []
        func add(_ pcm: [Int16], atMs: Int) {
            let start = atMs * 8
            if mix.count < start + pcm.count { mix += [Int32](repeating: 0, count: start + pcm.count - mix.count) }
            for (i, s) in pcm.enumerated() { mix[start + i] += Int32(s) }
        }
        do {
            if let callerWAV { add(try loadPCM8k(callerWAV), atMs: 0) }
            for cue in script.speak { add(try loadPCM8k(cue.path), atMs: cue.atMs) }
            for cue in script.say { add(try SpokenTextCode.encode(cue.text), atMs: cue.atMs) }
            if script.dtmfInBand {
                for cue in script.dtmf {
                    add(try ToneGenerator.dtmf(String(cue.digit), toneMs: 100, gapMs: 0, levelDBm0: -10), atMs: cue.atMs)
                }
            }
        } catch let error as SimulatorError {
            throw error
        } catch {
            throw .audio("\(error)")
        }
        // The caller is silent after its own hang-up.
        let limit = script.endMs * 8
        if mix.count > limit { mix.removeLast(mix.count - limit) }
        let pcm = mix.map { Int16(clamping: $0) }
        return CallerTrack(bytes: G711.encode(pcm, law: .ulaw), format: .mulaw8kMono, pcm8k: pcm)
    }

    /// A WAV file as mono PCM at 8 kHz.
    static func loadPCM8k(_ path: String) throws -> [Int16] {
        let audio: WAVAudio
        do {
            audio = try WAVFile.read(path: path)
        } catch let error as WAVError {
            if case .unreadable = error { throw SimulatorError.audio(error.description) }  // names the path already
            throw SimulatorError.audio("\(path): \(error)")
        }
        var pcm = audio.pcm16Samples
        if audio.channels > 1 {
            let channels = audio.channels
            pcm = stride(from: 0, to: pcm.count - channels + 1, by: channels).map { first in
                var sum = 0
                for c in 0..<channels { sum += Int(pcm[first + c]) }
                return Int16(sum / channels)
            }
        }
        guard audio.sampleRate != 8000 else { return pcm }
        let resampler: Resampler
        do {
            resampler = try Resampler(inputRate: audio.sampleRate, outputRate: 8000)
        } catch {
            throw SimulatorError.audio("\(path): \(error)")
        }
        // Push the filter's delay out with trailing silence so the end of the file is kept.
        return resampler.process(pcm + [Int16](repeating: 0, count: resampler.inputLatency))
    }
}
