import VoiceBridgeCarriers

/// The peak level of a call's audio both ways, for the live console's meters.
///
/// A call carries one only while a console page is open (the console attaches it on its first
/// reading and takes it off when the last page closes), so a call nobody watches pays one nil
/// check per frame and nothing else. While attached, a frame costs a pass over an eighth of its
/// samples with no decoding: μ-law and A-law codes order by magnitude once their sign bit is
/// masked, so the loudest code is found first and only that one is made linear. Every eighth
/// sample, from a place that moves each frame, follows the envelope of speech closely enough
/// for a meter read four times a second (a reading spans twelve frames, so every place); at a
/// thousand calls the full pass cost as much as the rest of the console (perf: 0.5 % of a core
/// at every fourth sample).
public final class CallMeter {
    private var inboundPeak: Int32 = 0
    private var outboundPeak: Int32 = 0
    /// Which of every `sampleStride` samples the next frame looks at, per direction: it moves on
    /// each frame, so a tone whose period divides the stride (a 1 kHz beep has 8 samples) is not
    /// read at the same phase every time.
    private var inboundOffset = 0
    private var outboundOffset = 0

    public init() {}

    /// Caller audio, as it arrived.
    public func inbound(_ frame: UnsafeRawBufferPointer, format: MediaFormat) {
        inboundOffset = (inboundOffset + 1) % Self.sampleStride
        inboundPeak = max(inboundPeak, Self.peak(frame, format.encoding, from: inboundOffset))
    }

    /// Bridge audio, as it went to the carrier.
    public func outbound(_ frame: UnsafeRawBufferPointer, format: MediaFormat) {
        outboundOffset = (outboundOffset + 1) % Self.sampleStride
        outboundPeak = max(outboundPeak, Self.peak(frame, format.encoding, from: outboundOffset))
    }

    /// Each direction's peak since the last reading, 0 (silence, or under -60 dBFS) to 100
    /// (full scale); the peaks start again from silence.
    public func take() -> (inbound: Int, outbound: Int) {
        defer {
            inboundPeak = 0
            outboundPeak = 0
        }
        return (Self.level(inboundPeak), Self.level(outboundPeak))
    }

    /// A linear peak (0...32768) as a meter position: -60...0 dBFS onto 0...100.
    static func level(_ peak: Int32) -> Int {
        guard peak > 0 else { return 0 }
        // log2 by the top bit and a straight line below it: within 0.5 dB, and no libm here.
        let top = 31 - peak.leadingZeroBitCount
        let log2 = Double(top) + Double(peak - (1 << top)) / Double(1 << top)
        let db = 6.0206 * (log2 - 15)
        return max(0, min(100, Int(((db + 60) / 60 * 100).rounded())))
    }

    /// Samples apart that the meter looks at.
    public static let sampleStride = 8

    /// The largest magnitude among every `sampleStride`-th sample of `frame` from sample
    /// `first`, linear 16-bit.
    static func peak(_ frame: UnsafeRawBufferPointer, _ encoding: AudioEncoding, from first: Int = 0) -> Int32 {
        switch encoding {
        case .mulaw:
            var code: UInt8 = 0
            var i = first
            while i < frame.count {
                code = max(code, ~frame[i] & 0x7F)
                i += sampleStride
            }
            let exponent = Int32(code >> 4)
            let mantissa = Int32(code & 0x0F)
            return (((mantissa << 3) + 0x84) << exponent) - 0x84
        case .alaw:
            var code: UInt8 = 0
            var i = first
            while i < frame.count {
                code = max(code, (frame[i] ^ 0x55) & 0x7F)
                i += sampleStride
            }
            let exponent = Int32(code >> 4)
            let mantissa = Int32(code & 0x0F)
            return exponent == 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1)
        case let .l16(order):
            var peak: Int32 = 0
            var i = 2 * first
            while i + 1 < frame.count {
                let raw = order == .littleEndian
                    ? UInt16(frame[i]) | UInt16(frame[i + 1]) << 8
                    : UInt16(frame[i]) << 8 | UInt16(frame[i + 1])
                peak = max(peak, abs(Int32(Int16(bitPattern: raw))))
                i += 2 * sampleStride
            }
            return peak
        }
    }
}
