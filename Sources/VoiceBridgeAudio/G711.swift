import CSpanDSP

/// G.711 companding between 16-bit linear PCM and 8-bit μ-law or A-law.
///
/// The per-sample conversions are SpanDSP's `static inline` functions, so the loops below compile
/// to straight-line code with no calls and no allocation; that is what the 20 ms inbound path needs.
public enum G711 {
    /// Encodes `pcm` into the first `pcm.count` bytes of `out`.
    public static func encode(_ pcm: UnsafeBufferPointer<Int16>, law: G711Law, into out: UnsafeMutableBufferPointer<UInt8>) {
        precondition(out.count >= pcm.count, "G711.encode: output holds \(out.count) bytes, input has \(pcm.count) samples")
        guard let src = pcm.baseAddress, let dst = out.baseAddress else { return }
        switch law {
        case .ulaw:
            for i in 0..<pcm.count { dst[i] = linear_to_ulaw(Int32(src[i])) }
        case .alaw:
            for i in 0..<pcm.count { dst[i] = linear_to_alaw(Int32(src[i])) }
        }
    }

    /// Decodes `coded` into the first `coded.count` samples of `out`.
    public static func decode(_ coded: UnsafeBufferPointer<UInt8>, law: G711Law, into out: UnsafeMutableBufferPointer<Int16>) {
        precondition(out.count >= coded.count, "G711.decode: output holds \(out.count) samples, input has \(coded.count) bytes")
        guard let src = coded.baseAddress, let dst = out.baseAddress else { return }
        switch law {
        case .ulaw:
            for i in 0..<coded.count { dst[i] = ulaw_to_linear(src[i]) }
        case .alaw:
            for i in 0..<coded.count { dst[i] = alaw_to_linear(src[i]) }
        }
    }

    /// Raw-byte flavour for callers that hold frames as `UnsafeRawBufferPointer` (e.g. from `Reframer`).
    public static func decode(_ coded: UnsafeRawBufferPointer, law: G711Law, into out: UnsafeMutableBufferPointer<Int16>) {
        decode(coded.assumingMemoryBound(to: UInt8.self), law: law, into: out)
    }

    public static func encode(_ pcm: [Int16], law: G711Law) -> [UInt8] {
        pcm.withUnsafeBufferPointer { src in
            [UInt8](unsafeUninitializedCapacity: src.count) { dst, count in
                encode(src, law: law, into: dst)
                count = src.count
            }
        }
    }

    public static func decode(_ coded: [UInt8], law: G711Law) -> [Int16] {
        coded.withUnsafeBufferPointer { src in
            [Int16](unsafeUninitializedCapacity: src.count) { dst, count in
                decode(src, law: law, into: dst)
                count = src.count
            }
        }
    }

    /// Single-sample forms, for tests and table building.
    public static func encode(_ sample: Int16, law: G711Law) -> UInt8 {
        switch law {
        case .ulaw: linear_to_ulaw(Int32(sample))
        case .alaw: linear_to_alaw(Int32(sample))
        }
    }

    public static func decode(_ code: UInt8, law: G711Law) -> Int16 {
        switch law {
        case .ulaw: ulaw_to_linear(code)
        case .alaw: alaw_to_linear(code)
        }
    }
}
