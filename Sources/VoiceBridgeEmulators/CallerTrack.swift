/// The caller's side of the audio, prepared once and shared by every simulated call: μ-law 8 kHz,
/// cut into 20 ms frames that are already base64-encoded, so sending a frame is a copy.
public final class CallerTrack: Sendable {
    public static let frameBytes = 160
    public static let frameBase64Bytes = 216
    static let silenceBase64: [UInt8] = {
        var out: [UInt8] = []
        Base64.encode([UInt8](repeating: 0xFF, count: frameBytes), into: &out)
        return out
    }()

    /// The audio, μ-law; frames past the end are silence.
    public let ulaw: [UInt8]
    public let frameCount: Int
    private let base64Frames: [UInt8]

    public init(ulaw: [UInt8]) {
        self.ulaw = ulaw
        frameCount = (ulaw.count + Self.frameBytes - 1) / Self.frameBytes
        var encoded: [UInt8] = []
        encoded.reserveCapacity(frameCount * Self.frameBase64Bytes)
        for k in 0..<frameCount {
            let start = k * Self.frameBytes
            var frame = Array(ulaw[start..<min(start + Self.frameBytes, ulaw.count)])
            frame += [UInt8](repeating: 0xFF, count: Self.frameBytes - frame.count)
            Base64.encode(frame, into: &encoded)
        }
        base64Frames = encoded
    }

    public static let silence = CallerTrack(ulaw: [])

    /// Calls `body` with frame `index` (0-based) as base64.
    @inline(__always)
    func withFrameBase64<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if index < frameCount {
            return base64Frames.withUnsafeBytes {
                body(UnsafeRawBufferPointer(rebasing: $0[(index * Self.frameBase64Bytes)..<((index + 1) * Self.frameBase64Bytes)]))
            }
        }
        return Self.silenceBase64.withUnsafeBytes(body)
    }

    /// Builds the caller's audio: `--caller-wav` from 0, each `--speak` file mixed in at its time,
    /// and, with in-band DTMF, each key's tone mixed in at its time.
    public static func build(callerWAV: String?, script: CallScript) throws(SimulatorError) -> CallerTrack {
        var mix: [Int32] = []
        func add(_ pcm: [Int16], atMs: Int) {
            let start = atMs * 8
            if mix.count < start + pcm.count { mix += [Int32](repeating: 0, count: start + pcm.count - mix.count) }
            for (i, s) in pcm.enumerated() { mix[start + i] += Int32(s) }
        }
        func load(_ path: String) throws(SimulatorError) -> [Int16] {
            do {
                return try SimWAV.read(path: path).resampled8k()
            } catch {
                throw .audio("\(error)")
            }
        }
        if let callerWAV { add(try load(callerWAV), atMs: 0) }
        for cue in script.speak { add(try load(cue.path), atMs: cue.atMs) }
        if script.dtmfInBand {
            for cue in script.dtmf { add(SimTones.dtmf(cue.digit), atMs: cue.atMs) }
        }
        // The caller is silent after its own hang-up.
        let limit = script.endMs * 8
        if mix.count > limit { mix.removeLast(mix.count - limit) }
        return CallerTrack(ulaw: mix.map { SimG711.ulaw(Int16(clamping: $0)) })
    }
}
