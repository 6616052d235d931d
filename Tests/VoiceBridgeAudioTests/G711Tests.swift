import Testing
@testable import VoiceBridgeAudio

/// An independent G.711 model written from the standard's tables (ITU-T G.711 Tables 1a/2a), not from
/// SpanDSP's bias/top-bit arithmetic: segment k spans decision values [start_k, start_k + 16·step_k)
/// on the 13-bit (A-law) or 14-bit (μ-law) magnitude scale, and the code is sign | segment | step.
enum ReferenceG711 {
    /// μ-law: 16-bit input magnitude → 14-bit scale (>> 2). Segment 0 starts at -1 (its first interval
    /// is the half-width one around zero, decision value 1), segment k at 2^(k+5) − 33, step 2^(k+1).
    static func ulaw(_ sample: Int16) -> UInt8 {
        let negative = sample < 0
        let magnitude = (negative ? -Int(sample) : Int(sample)) >> 2
        var code = 0x7F // beyond the last decision value (8159): the largest code
        for segment in 0..<8 {
            let start = (1 << (segment + 5)) - 33
            let step = 1 << (segment + 1)
            if magnitude < start + 16 * step {
                code = segment << 4 | (magnitude - start) / step
                break
            }
        }
        // Transmitted inverted, with the sign bit set for negatives before inversion.
        return ~UInt8((negative ? 0x80 : 0) | code)
    }

    /// A-law: magnitude is the one's complement for negatives (so −1 sits with 0), on the 13-bit scale
    /// (>> 3). Segments 0 and 1 both have step 2 (0–31, 32–63); segment k ≥ 1 starts at 2^(k+4), step 2^k.
    static func alaw(_ sample: Int16) -> UInt8 {
        let negative = sample < 0
        let magnitude = (negative ? Int(~sample) : Int(sample)) >> 3
        var code = 0x7F
        for segment in 0..<8 {
            let start = segment == 0 ? 0 : 1 << (segment + 4)
            let step = segment == 0 ? 2 : 1 << segment
            if magnitude < start + 16 * step {
                code = segment << 4 | (magnitude - start) / step
                break
            }
        }
        // Positive values carry sign bit 1; even bits are inverted (0x55) for transmission.
        return UInt8((negative ? 0 : 0x80) | code) ^ 0x55
    }

    /// Decoder outputs are the interval midpoints of the same tables, scaled back to 16 bits.
    static func ulawDecode(_ code: UInt8) -> Int16 {
        let c = ~code
        let segment = Int(c >> 4) & 7, step = Int(c) & 0x0F
        let start = (1 << (segment + 5)) - 33
        let mid14 = segment == 0 && step == 0 ? 0 : start + step * (1 << (segment + 1)) + (1 << segment)
        return Int16((c & 0x80) != 0 ? -mid14 * 4 : mid14 * 4)
    }

    static func alawDecode(_ code: UInt8) -> Int16 {
        let c = code ^ 0x55
        let segment = Int(c >> 4) & 7, step = Int(c) & 0x0F
        let start = segment == 0 ? 0 : 1 << (segment + 4)
        let width = segment == 0 ? 2 : 1 << segment
        let mid13x2 = 2 * (start + step * width) + width // twice the midpoint keeps it integral
        let value = mid13x2 * 4 // (mid13x2 / 2) << 3
        return Int16((c & 0x80) != 0 ? value : -value)
    }
}

@Suite struct G711Tests {
    /// Quantisation step, in 16-bit units, of the interval a code belongs to.
    private func step(of code: UInt8, law: G711Law) -> Int {
        switch law {
        case .ulaw:
            let segment = Int(~code >> 4) & 7
            return 1 << (segment + 3)
        case .alaw:
            let segment = Int((code ^ 0x55) >> 4) & 7
            return segment == 0 ? 16 : 1 << (segment + 3)
        }
    }

    @Test func wellKnownCodes() {
        // μ-law: 0 → 0xFF (the silence byte), −1 → 0x7F (negative zero), full scale → 0x80 / 0x00.
        #expect(G711.encode(0, law: .ulaw) == 0xFF)
        #expect(G711.encode(-1, law: .ulaw) == 0x7F)
        #expect(G711.encode(32767, law: .ulaw) == 0x80)
        #expect(G711.encode(-32768, law: .ulaw) == 0x00)
        #expect(G711.decode(0xFF, law: .ulaw) == 0)
        #expect(G711.decode(0x80, law: .ulaw) == 32124)
        #expect(G711.decode(0x00, law: .ulaw) == -32124)
        // A-law: 0 → 0xD5 (the silence byte), −1 → 0x55, full scale → 0xAA / 0x2A.
        #expect(G711.encode(0, law: .alaw) == 0xD5)
        #expect(G711.encode(-1, law: .alaw) == 0x55)
        #expect(G711.encode(32767, law: .alaw) == 0xAA)
        #expect(G711.encode(-32768, law: .alaw) == 0x2A)
        #expect(G711.decode(0xD5, law: .alaw) == 8)
        #expect(G711.decode(0xAA, law: .alaw) == 32256)
        #expect(G711.decode(0x2A, law: .alaw) == -32256)
        for law in G711Law.allCases {
            #expect(G711.encode(0, law: law) == law.silenceByte)
        }
    }

    @Test func literalCodesAgreeWithReferenceModel() {
        // The literals above must also follow from the table model, so neither is a guess.
        #expect(ReferenceG711.ulaw(0) == 0xFF)
        #expect(ReferenceG711.ulaw(-1) == 0x7F)
        #expect(ReferenceG711.ulaw(32767) == 0x80)
        #expect(ReferenceG711.ulaw(-32768) == 0x00)
        #expect(ReferenceG711.alaw(0) == 0xD5)
        #expect(ReferenceG711.alaw(-1) == 0x55)
        #expect(ReferenceG711.alaw(32767) == 0xAA)
        #expect(ReferenceG711.alaw(-32768) == 0x2A)
    }

    @Test func encodeMatchesReferenceTable() {
        let samples: [Int16] = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 100, 127, 128, 131, 132, 255, 256, 500, 1000,
                                1023, 1024, 2000, 4000, 4063, 4064, 8000, 8158, 8159, 16000, 16383, 20000, 32000, 32635,
                                32636, 32767, -1, -2, -4, -5, -8, -100, -1000, -4000, -8159, -16384, -32767, -32768]
        for sample in samples {
            #expect(G711.encode(sample, law: .ulaw) == ReferenceG711.ulaw(sample), "μ-law \(sample)")
            #expect(G711.encode(sample, law: .alaw) == ReferenceG711.alaw(sample), "A-law \(sample)")
        }
    }

    @Test(arguments: G711Law.allCases)
    func everyInputMatchesReferenceAndRoundTripsWithinOneStep(law: G711Law) {
        let all = (Int(Int16.min)...Int(Int16.max)).map { Int16($0) }
        let codes = G711.encode(all, law: law)
        let decoded = G711.decode(codes, law: law)
        var mismatches = 0, tooFar = 0
        for i in all.indices {
            let reference = law == .ulaw ? ReferenceG711.ulaw(all[i]) : ReferenceG711.alaw(all[i])
            if codes[i] != reference { mismatches += 1 }
            if abs(Int(decoded[i]) - Int(all[i])) > step(of: codes[i], law: law) { tooFar += 1 }
        }
        #expect(mismatches == 0)
        #expect(tooFar == 0)
    }

    @Test(arguments: G711Law.allCases)
    func everyCodeDecodesToReferenceMidpointAndReencodesToItself(law: G711Law) {
        for code in 0...255 {
            let byte = UInt8(code)
            let linear = G711.decode(byte, law: law)
            let reference = law == .ulaw ? ReferenceG711.ulawDecode(byte) : ReferenceG711.alawDecode(byte)
            #expect(linear == reference, "code \(code)")
            // μ-law has two zeros (0x7F, 0xFF); both decode to 0, which encodes as 0xFF.
            if !(law == .ulaw && byte == 0x7F) {
                #expect(G711.encode(linear, law: law) == byte, "code \(code)")
            }
        }
    }

    @Test func bufferAndArrayFormsAgree() {
        var rng = SplitMix64(seed: 3)
        let pcm = (0..<1000).map { _ in Int16.random(in: .min ... .max, using: &rng) }
        for law in G711Law.allCases {
            var coded = [UInt8](repeating: 0, count: pcm.count)
            pcm.withUnsafeBufferPointer { src in coded.withUnsafeMutableBufferPointer { G711.encode(src, law: law, into: $0) } }
            #expect(coded == G711.encode(pcm, law: law))
            var linear = [Int16](repeating: 0, count: coded.count)
            coded.withUnsafeBufferPointer { src in linear.withUnsafeMutableBufferPointer { G711.decode(src, law: law, into: $0) } }
            #expect(linear == G711.decode(coded, law: law))
            #expect(linear == coded.map { G711.decode($0, law: law) })
        }
    }
}
