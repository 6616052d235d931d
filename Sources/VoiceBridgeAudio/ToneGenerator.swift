import CSpanDSP

/// North American call progress tones (levels per tone component, as in Bellcore/Telcordia practice).
public enum CallProgressTone: String, Sendable, CaseIterable {
    /// A steady 1 kHz prompt beep ("speak after the tone").
    case beep
    /// 440 + 480 Hz, 2 s on / 4 s off.
    case ringback
    /// 480 + 620 Hz, 0.5 s on / 0.5 s off.
    case busy
    /// Reorder (fast busy): 480 + 620 Hz, 0.25 s on / 0.25 s off.
    case reorder
}

public enum ToneGeneratorError: Error, Equatable, CustomStringConvertible {
    case invalidDTMFDigit(Character, position: Int)
    case invalidTiming(toneMs: Int, gapMs: Int)
    case invalidLevel(Double)

    public var description: String {
        switch self {
        case let .invalidDTMFDigit(digit, position):
            return "DTMF: '\(digit)' at position \(position) is not a DTMF digit (allowed: 0-9 * # A-D)"
        case let .invalidTiming(toneMs, gapMs):
            return "DTMF: tone \(toneMs) ms / gap \(gapMs) ms is invalid (tone must be > 0 ms, gap >= 0 ms)"
        case let .invalidLevel(level):
            return "DTMF: level \(level) dBm0 is outside -60...0 dBm0"
        }
    }
}

/// Test and signalling audio made with SpanDSP's generators (8 kHz native).
public enum ToneGenerator {
    /// The 16 DTMF keys, in SpanDSP's accepted spelling.
    public static let dtmfDigits: Set<Character> = Set("0123456789*#ABCD")

    /// `durationMs` of `tone`, starting at the beginning of its cadence.
    /// Rates other than 8 kHz are produced by resampling the 8 kHz tone.
    public static func pcm(_ tone: CallProgressTone, durationMs: Int, sampleRate: Int = 8000) -> [Int16] {
        precondition(durationMs >= 0, "ToneGenerator.pcm: negative duration \(durationMs) ms")
        precondition((8000...48000).contains(sampleRate), "ToneGenerator.pcm: sample rate \(sampleRate) outside 8000...48000")
        let count = durationMs * 8
        guard count > 0 else { return [] }

        let (f1, l1, f2, l2, on1, off1): (Int32, Int32, Int32, Int32, Int32, Int32) =
            switch tone {
            // A single uncadenced segment as long as requested.
            case .beep: (1000, -13, 0, 0, Int32(clamping: durationMs), 0)
            case .ringback: (440, -19, 480, -19, 2000, 4000)
            case .busy: (480, -24, 620, -24, 500, 500)
            case .reorder: (480, -24, 620, -24, 250, 250)
            }
        let repeats: Int32 = tone == .beep ? 0 : 1
        guard let descriptor = tone_gen_descriptor_init(nil, f1, l1, f2, l2, on1, off1, 0, 0, repeats) else {
            fatalError("SpanDSP could not allocate a tone descriptor")
        }
        defer { tone_gen_descriptor_free(descriptor) }
        guard let generator = tone_gen_init(nil, descriptor) else {
            fatalError("SpanDSP could not allocate a tone generator")
        }
        defer { tone_gen_free(generator) }

        let narrowband = [Int16](unsafeUninitializedCapacity: count) { buffer, initialized in
            var produced = 0
            while produced < count {
                let n = Int(tone_gen(generator, buffer.baseAddress! + produced, Int32(count - produced)))
                if n <= 0 { break }
                produced += n
            }
            // A finished cadence means silence for the rest.
            (buffer.baseAddress! + produced).initialize(repeating: 0, count: count - produced)
            initialized = count
        }
        return sampleRate == 8000 ? narrowband : resampled(narrowband, to: sampleRate, count: durationMs * sampleRate / 1000)
    }

    /// DTMF digits via SpanDSP's `dtmf_tx`: each digit is `toneMs` of tone followed by `gapMs` of silence.
    /// `levelDBm0` is per tone component (no twist), rounded to whole dB as SpanDSP takes it.
    public static func dtmf(_ digits: String, toneMs: Int = 100, gapMs: Int = 100, levelDBm0: Double = -10) throws -> [Int16] {
        for (position, digit) in digits.enumerated() where !dtmfDigits.contains(digit) {
            throw ToneGeneratorError.invalidDTMFDigit(digit, position: position)
        }
        guard toneMs > 0, gapMs >= 0, toneMs <= 60_000, gapMs <= 60_000 else {
            throw ToneGeneratorError.invalidTiming(toneMs: toneMs, gapMs: gapMs)
        }
        guard levelDBm0.isFinite, (-60.0...0.0).contains(levelDBm0) else {
            throw ToneGeneratorError.invalidLevel(levelDBm0)
        }
        guard !digits.isEmpty else { return [] }

        guard let sender = dtmf_tx_init(nil) else { fatalError("SpanDSP could not allocate a DTMF generator") }
        defer { dtmf_tx_free(sender) }
        dtmf_tx_set_level(sender, Int32(levelDBm0.rounded()), 0)
        dtmf_tx_set_timing(sender, Int32(toneMs), Int32(gapMs))

        let perDigit = (toneMs + gapMs) * 8
        let ascii = Array(digits.utf8)
        var output: [Int16] = []
        output.reserveCapacity(ascii.count * perDigit)
        var block = [Int16](repeating: 0, count: 1024)
        // SpanDSP's digit queue is bounded, so feed it in batches and drain each batch completely.
        var next = 0
        while next < ascii.count {
            let batch = min(32, ascii.count - next)
            // dtmf_tx_put is all-or-nothing and returns how many digits did not fit; the queue is empty here.
            let rejected = ascii[next ..< next + batch].withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { Int(dtmf_tx_put(sender, $0.baseAddress, Int32(batch))) }
            }
            precondition(rejected == 0, "SpanDSP DTMF queue refused \(rejected) digits")
            next += batch
            while true {
                let n = block.withUnsafeMutableBufferPointer { Int(dtmf_tx(sender, $0.baseAddress, Int32($0.count))) }
                if n <= 0 { break }
                output.append(contentsOf: block[0 ..< n])
            }
        }
        // Pad to the nominal length so the last digit keeps its full trailing gap.
        let nominal = ascii.count * perDigit
        if output.count < nominal { output.append(contentsOf: repeatElement(0, count: nominal - output.count)) }
        return output
    }

    /// μ-law bytes for `pcm`, ready to queue as telephony audio.
    public static func ulaw(_ pcm: [Int16]) -> [UInt8] {
        G711.encode(pcm, law: .ulaw)
    }

    private static func resampled(_ narrowband: [Int16], to sampleRate: Int, count: Int) -> [Int16] {
        guard let resampler = try? Resampler(anyInputRate: 8000, outputRate: sampleRate, quality: 7) else {
            fatalError("speexdsp could not create an 8000 → \(sampleRate) Hz resampler")
        }
        // The tone starts at sample 0 and lasts exactly `count` samples.
        let aligned = resampler.wholeRecording(narrowband)
        if aligned.count >= count { return Array(aligned[0 ..< count]) }
        return aligned + repeatElement(0, count: count - aligned.count)
    }
}
