import VoiceBridgeAudio

/// The caller's side of the audio, prepared once and shared by every simulated call: μ-law 8 kHz,
/// read in 20 ms frames; frames past the end are silence.
public final class CallerTrack: Sendable {
    public static let frameBytes = 160
    static let silenceFrame = [UInt8](repeating: G711Law.ulaw.silenceByte, count: frameBytes)

    /// The audio, μ-law, padded with silence to whole frames.
    public let ulaw: [UInt8]
    public var frameCount: Int { ulaw.count / Self.frameBytes }

    public init(ulaw: [UInt8]) {
        let padding = (Self.frameBytes - ulaw.count % Self.frameBytes) % Self.frameBytes
        self.ulaw = ulaw + [UInt8](repeating: G711Law.ulaw.silenceByte, count: padding)
    }

    public static let silence = CallerTrack(ulaw: [])

    /// Calls `body` with frame `index` (0-based).
    @inline(__always)
    func withFrame<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if index < frameCount {
            return ulaw.withUnsafeBytes {
                body(UnsafeRawBufferPointer(rebasing: $0[(index * Self.frameBytes)..<((index + 1) * Self.frameBytes)]))
            }
        }
        return Self.silenceFrame.withUnsafeBytes(body)
    }

    /// Builds the caller's audio: `--caller-wav` from 0, each `--speak` file mixed in at its time,
    /// and, with in-band DTMF, each key's tone (100 ms, -10 dBm0 per component) mixed in at its time.
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
        return CallerTrack(ulaw: G711.encode(mix.map { Int16(clamping: $0) }, law: .ulaw))
    }

    /// A WAV file as mono PCM at 8 kHz.
    static func loadPCM8k(_ path: String) throws -> [Int16] {
        let audio: WAVAudio
        do {
            audio = try WAVFile.read(path: path)
        } catch {
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
