import CSpanDSP

public struct DetectedDigit: Sendable, Equatable {
    public let digit: Character
    /// Estimated start of the key press, in ms since the first sample fed to the detector.
    public let startMs: Int

    public init(digit: Character, startMs: Int) {
        self.digit = digit
        self.startMs = startMs
    }
}

/// In-band DTMF detection (SpanDSP `dtmf_rx`) over 8 kHz PCM.
///
/// SpanDSP decides once per internal block of 102 samples and confirms a digit after two agreeing
/// blocks. The input is fed in pieces that end on those block boundaries, so every decision is tied
/// to a known sample position; the press start is then estimated from that position.
public final class DTMFDetector {
    /// SpanDSP's `DTMF_SAMPLES_PER_BLOCK` (dtmf.c); not exported by its headers.
    static let blockSize = 102
    /// Samples from the press start to the block end where SpanDSP reports it. A block counts as a hit
    /// once roughly 3/4 of it holds tone, and a digit is reported at the end of the second hit block, so
    /// the delay spans one block width; measured 180–282 samples for clean tones. The middle of that
    /// range keeps the start estimate within about ±7 ms.
    static let reportDelay = 231

    private var state: OpaquePointer
    private var samplesFed = 0
    private var blockPhase = 0

    public init() {
        state = Self.makeState()
    }

    deinit {
        dtmf_rx_free(state)
    }

    private static func makeState() -> OpaquePointer {
        // No callbacks: digits queue inside SpanDSP and are collected with dtmf_rx_get at block ends.
        guard let state = dtmf_rx_init(nil, nil, nil) else { fatalError("SpanDSP could not allocate a DTMF detector") }
        return state
    }

    /// Feeds consecutive PCM; calls `onDigit` once per key press. Allocation-free.
    public func process(_ samples: UnsafeBufferPointer<Int16>, onDigit: (DetectedDigit) -> Void) {
        guard var pointer = samples.baseAddress else { return }
        var remaining = samples.count
        while remaining > 0 {
            let n = min(remaining, Self.blockSize - blockPhase)
            _ = dtmf_rx(state, pointer, Int32(n))
            pointer += n
            remaining -= n
            samplesFed += n
            blockPhase += n
            guard blockPhase == Self.blockSize else { continue }
            blockPhase = 0
            var digits: (CChar, CChar, CChar, CChar) = (0, 0, 0, 0)
            let got = withUnsafeMutableBytes(of: &digits) { raw in
                // dtmf_rx_get writes a terminating NUL after the digits, hence max 3 in a 4-byte buffer.
                Int(dtmf_rx_get(state, raw.baseAddress!.assumingMemoryBound(to: CChar.self), 3))
            }
            guard got > 0 else { continue }
            let startMs = max(0, samplesFed - Self.reportDelay) / 8
            withUnsafeBytes(of: digits) { raw in
                for i in 0..<got {
                    onDigit(DetectedDigit(digit: Character(Unicode.Scalar(raw[i])), startMs: startMs))
                }
            }
        }
    }

    public func process(_ samples: [Int16]) -> [DetectedDigit] {
        var found: [DetectedDigit] = []
        samples.withUnsafeBufferPointer { process($0) { found.append($0) } }
        return found
    }

    /// Forgets any tone in progress and restarts the time origin, as a freshly made detector.
    public func reset() {
        dtmf_rx_free(state)
        state = Self.makeState()
        samplesFed = 0
        blockPhase = 0
    }
}
