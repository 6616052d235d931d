import CSpeexDSP

public enum ResamplerError: Error, Equatable, CustomStringConvertible {
    case unsupportedConversion(inputRate: Int, outputRate: Int)
    case invalidQuality(Int)
    case initializationFailed(inputRate: Int, outputRate: Int, code: Int)

    public var description: String {
        switch self {
        case let .unsupportedConversion(input, output):
            let supported = Resampler.supportedConversions.map { "\($0.input)→\($0.output)" }.joined(separator: ", ")
            return "Resampler: \(input) Hz → \(output) Hz is not supported (supported: \(supported))"
        case let .invalidQuality(quality):
            return "Resampler: quality \(quality) is outside speexdsp's range 0...10"
        case let .initializationFailed(input, output, code):
            return "Resampler: speexdsp failed to create a \(input) Hz → \(output) Hz resampler (error \(code))"
        }
    }
}

/// Streaming, stateful sample-rate converter (speexdsp), mono Int16.
///
/// Deliberately not `Sendable`: it owns mutable C state, so it belongs to one call's event loop
/// (or one synthesis task) at a time.
public final class Resampler {
    /// The conversions the bridge needs: TTS/offline-voice rates down to telephony, and telephony up
    /// to wideband for analysis. Anything else is most likely a configuration mistake.
    public static let supportedConversions: [(input: Int, output: Int)] = [
        (16000, 8000), (22050, 8000), (24000, 8000), (44100, 8000), (48000, 8000), (8000, 16000),
        (22050, 16000), (24000, 16000), (44100, 16000), (48000, 16000),
    ]

    public let inputRate: Int
    public let outputRate: Int
    public let quality: Int
    private let state: OpaquePointer

    public convenience init(inputRate: Int, outputRate: Int, quality: Int = 7) throws {
        guard Self.supportedConversions.contains(where: { $0.input == inputRate && $0.output == outputRate }) else {
            throw ResamplerError.unsupportedConversion(inputRate: inputRate, outputRate: outputRate)
        }
        try self.init(anyInputRate: inputRate, outputRate: outputRate, quality: quality)
    }

    /// Any pair of positive rates; for in-module uses such as tone generation at arbitrary rates.
    init(anyInputRate inputRate: Int, outputRate: Int, quality: Int) throws {
        guard (0...10).contains(quality) else { throw ResamplerError.invalidQuality(quality) }
        guard inputRate > 0, outputRate > 0, inputRate <= 384_000, outputRate <= 384_000 else {
            throw ResamplerError.unsupportedConversion(inputRate: inputRate, outputRate: outputRate)
        }
        var error: Int32 = 0
        guard let state = speex_resampler_init(1, UInt32(inputRate), UInt32(outputRate), Int32(quality), &error) else {
            throw ResamplerError.initializationFailed(inputRate: inputRate, outputRate: outputRate, code: Int(error))
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.quality = quality
        self.state = state
    }

    deinit {
        speex_resampler_destroy(state)
    }

    /// Consumes all of `input` and appends every output sample it yields to `output`.
    ///
    /// Allocation-free when `output` already has spare capacity for about
    /// `input.count * outputRate / inputRate + 16` samples (keep one array and `removeAll(keepingCapacity:)`).
    public func process(_ input: UnsafeBufferPointer<Int16>, into output: inout [Int16]) {
        guard let base = input.baseAddress else { return }
        var consumed = 0
        while consumed < input.count {
            let remaining = input.count - consumed
            let room = remaining * outputRate / inputRate + 16
            let start = output.count
            output.append(contentsOf: repeatElement(0, count: room))
            var inLength = UInt32(remaining)
            var outLength = UInt32(room)
            output.withUnsafeMutableBufferPointer { out in
                _ = speex_resampler_process_int(state, 0, base + consumed, &inLength, out.baseAddress! + start, &outLength)
            }
            output.removeLast(room - Int(outLength))
            consumed += Int(inLength)
            // speexdsp always makes progress given room; this guards against looping forever if it did not.
            if inLength == 0 && outLength == 0 { break }
        }
    }

    public func process(_ input: [Int16]) -> [Int16] {
        var output: [Int16] = []
        output.reserveCapacity(input.count * outputRate / inputRate + 16)
        input.withUnsafeBufferPointer { process($0, into: &output) }
        return output
    }

    /// Clears the filter history (barge-in), so the next input is processed as by a fresh resampler.
    public func reset() {
        speex_resampler_reset_mem(state)
    }

    /// A whole recording at another rate, time-aligned: the filter's delay is removed and its tail
    /// flushed, so the result has exactly `samples.count * outputRate / inputRate` samples (rounded
    /// to nearest) and sample 0 of the output is sample 0 of the input. For files, not streams.
    public static func resample(_ samples: [Int16], from inputRate: Int, to outputRate: Int, quality: Int = 7) throws -> [Int16] {
        if inputRate == outputRate { return samples }
        let resampler = try Resampler(inputRate: inputRate, outputRate: outputRate, quality: quality)
        return resampler.wholeRecording(samples)
    }

    /// `resample` on this (fresh) resampler, for callers that already hold one.
    func wholeRecording(_ samples: [Int16]) -> [Int16] {
        let count = (samples.count * outputRate + inputRate / 2) / inputRate
        var output: [Int16] = []
        output.reserveCapacity(count + outputLatency + 64)
        samples.withUnsafeBufferPointer { process($0, into: &output) }
        // Trailing silence pushes the last real samples out of the filter.
        let flush = [Int16](repeating: 0, count: inputLatency + 8)
        flush.withUnsafeBufferPointer { process($0, into: &output) }
        let skip = min(outputLatency, output.count)
        var aligned = Array(output[skip...])
        if aligned.count < count { aligned.append(contentsOf: repeatElement(0, count: count - aligned.count)) }
        return Array(aligned[0 ..< count])
    }

    /// Input samples the filter delays the signal by.
    public var inputLatency: Int { Int(speex_resampler_get_input_latency(state)) }
    /// The same delay in output samples.
    public var outputLatency: Int { Int(speex_resampler_get_output_latency(state)) }
}
