import VoiceBridgeAudio

/// A stream's bytes to and from 16-bit linear PCM at the stream's own rate: what the detectors
/// listen to, and how audio in one format is carried into another.
extension MediaFormat {
    /// Samples in `byteCount` bytes; a trailing odd byte of L16 is not a sample.
    public func sampleCount(ofBytes byteCount: Int) -> Int {
        byteCount / (encoding.bytesPerSample * channels)
    }

    /// Decodes the whole samples of `bytes` into the start of `out` and returns how many it wrote.
    /// `out` must hold `sampleCount(ofBytes: bytes.count)` samples.
    @discardableResult
    public func decode(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = sampleCount(ofBytes: bytes.count)
        precondition(out.count >= count, "MediaFormat.decode: output holds \(out.count) samples, input has \(count)")
        guard count > 0, let src = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), let dst = out.baseAddress else { return 0 }
        switch encoding {
        case .mulaw, .alaw:
            G711.decode(UnsafeBufferPointer(start: src, count: count), law: g711Law!, into: out)
        case .l16(.littleEndian):
            for i in 0..<count { dst[i] = Int16(bitPattern: UInt16(src[2 * i]) | UInt16(src[2 * i + 1]) << 8) }
        case .l16(.bigEndian):
            for i in 0..<count { dst[i] = Int16(bitPattern: UInt16(src[2 * i]) << 8 | UInt16(src[2 * i + 1])) }
        }
        return count
    }

    /// Encodes `pcm` in this format and appends the bytes to `out`.
    public func encode(_ pcm: UnsafeBufferPointer<Int16>, appendingTo out: inout [UInt8]) {
        switch encoding {
        case .mulaw, .alaw:
            let law = g711Law!
            for sample in pcm { out.append(G711.encode(sample, law: law)) }
        case .l16(.littleEndian):
            for sample in pcm {
                let bits = UInt16(bitPattern: sample)
                out.append(UInt8(truncatingIfNeeded: bits))
                out.append(UInt8(truncatingIfNeeded: bits >> 8))
            }
        case .l16(.bigEndian):
            for sample in pcm {
                let bits = UInt16(bitPattern: sample)
                out.append(UInt8(truncatingIfNeeded: bits >> 8))
                out.append(UInt8(truncatingIfNeeded: bits))
            }
        }
    }

    public func encode(_ pcm: [Int16]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(pcm.count * encoding.bytesPerSample)
        pcm.withUnsafeBufferPointer { encode($0, appendingTo: &out) }
        return out
    }

    public func decode(_ bytes: [UInt8]) -> [Int16] {
        let count = sampleCount(ofBytes: bytes.count)
        return [Int16](unsafeUninitializedCapacity: count) { out, written in
            written = bytes.withUnsafeBytes { decode($0, into: out) }
        }
    }
}
