import VoiceBridgeAudio
import VoiceBridgeCarriers

/// Carries one turn's speech from the format its source made it in into the call's wire format.
///
/// Same format: the bytes pass through untouched (ElevenLabs asked for the carrier's own format).
/// L16 in the other byte order: swapped. Anything else goes through linear PCM: G.711 decoded or
/// encoded with SpanDSP, the rate changed with speexdsp. Stateful across the chunks of one turn:
/// the resampler keeps its filter history, and the odd byte of a 16-bit sample cut between two
/// chunks waits for its other half. One converter per turn, confined to the call's loop.
public final class SpeechAudioConverter {
    public let target: MediaFormat
    private var source: MediaFormat?
    private var resampler: Resampler?
    /// The first byte of a 16-bit sample whose second byte is in the next chunk.
    private var carry: UInt8?
    private var pcm: [Int16] = []
    private var resampled: [Int16] = []
    /// Output samples still owed to the resampler's start-up delay: dropped, so the speech
    /// starts on time and the turn has exactly its length in the new rate.
    private var delayToSkip = 0
    private var inputSamples = 0
    private var outputSamples = 0

    public init(target: MediaFormat) {
        self.target = target
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unsupported(from: MediaFormat, to: MediaFormat)
        public var description: String {
            switch self {
            case let .unsupported(from, to): "can't convert speech in \(from) to \(to)"
            }
        }
    }

    /// `bytes` of `format` in the target format. Throws when no resampler exists for the rates.
    public func convert(_ bytes: [UInt8], from format: MediaFormat) throws(Failure) -> [UInt8] {
        if format == target, carry == nil { return bytes }
        if source != format {
            // A turn speaks one format; a change (a fallback source mid-turn) starts afresh.
            source = format
            carry = nil
            resampler = nil
            inputSamples = 0
            outputSamples = 0
            if format.sampleRate != target.sampleRate {
                do { resampler = try Resampler(inputRate: format.sampleRate, outputRate: target.sampleRate) } catch {
                    throw .unsupported(from: format, to: target)
                }
                delayToSkip = resampler?.outputLatency ?? 0
            }
            if format == target { return bytes }
        }
        var input = bytes
        if let first = carry {
            input.insert(first, at: 0)
            carry = nil
        }
        if format.encoding.bytesPerSample == 2, input.count % 2 == 1 { carry = input.removeLast() }
        if case .l16 = format.encoding, case .l16 = target.encoding, format.sampleRate == target.sampleRate {
            if format.encoding == target.encoding { return input }
            for i in stride(from: 0, to: input.count - 1, by: 2) { input.swapAt(i, i + 1) }
            return input
        }
        pcm = format.decode(input)
        return encodeThroughResampler()
    }

    /// The end of the turn: what the resampler still holds, flushed with silence, so the turn
    /// comes out exactly as long as it went in.
    public func finish() -> [UInt8] {
        carry = nil
        guard let resampler, let source else { return [] }
        let owed = expectedOutput - outputSamples
        guard owed > 0 else { return [] }
        pcm = [Int16](repeating: 0, count: resampler.inputLatency + owed * source.sampleRate / target.sampleRate + 8)
        let tail = encodeThroughResampler(countingInput: false)
        let missing = expectedOutput - outputSamples
        outputSamples = 0
        inputSamples = 0
        self.source = nil
        return missing > 0 ? tail + target.encode([Int16](repeating: 0, count: missing)) : tail
    }

    private var expectedOutput: Int {
        guard let source else { return 0 }
        return inputSamples * target.sampleRate / source.sampleRate
    }

    private func encodeThroughResampler(countingInput: Bool = true) -> [UInt8] {
        guard let resampler else { return target.encode(pcm) }
        if countingInput { inputSamples += pcm.count }
        resampled.removeAll(keepingCapacity: true)
        pcm.withUnsafeBufferPointer { resampler.process($0, into: &resampled) }
        var usable = resampled[...]
        if delayToSkip > 0 {
            let skip = min(delayToSkip, usable.count)
            usable = usable.dropFirst(skip)
            delayToSkip -= skip
        }
        let out = usable.prefix(max(0, expectedOutput - outputSamples))
        outputSamples += out.count
        return out.withUnsafeBufferPointer { samples in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(samples.count * target.encoding.bytesPerSample)
            target.encode(samples, appendingTo: &bytes)
            return bytes
        }
    }
}
