import Foundation

// Stand-ins for VoiceBridgeAudio's G711, WAVFile, Resampler and ToneGenerator until that module
// lands on main; they keep the same shapes so the switch is a rename. Not on any per-frame path.

enum SimG711 {
    static func ulaw(_ sample: Int16) -> UInt8 {
        let bias = 0x84
        var s = Int(sample)
        let sign = s < 0 ? 0x80 : 0
        if s < 0 { s = -s }
        s = min(s, 32635) + bias
        var exponent = 7
        var mask = 0x4000
        while exponent > 0, s & mask == 0 {
            exponent -= 1
            mask >>= 1
        }
        let mantissa = (s >> (exponent + 3)) & 0x0F
        return ~UInt8(sign | (exponent << 4) | mantissa)
    }

    static func linear(ulaw byte: UInt8) -> Int16 {
        let u = Int(~byte)
        let exponent = (u >> 4) & 0x07
        let sample = (((u & 0x0F) << 3) + 0x84) << exponent
        return Int16(u & 0x80 != 0 ? 0x84 - sample : sample - 0x84)
    }

    static func linear(alaw byte: UInt8) -> Int16 {
        let a = Int(byte ^ 0x55)
        var t = (a & 0x0F) << 4
        let segment = (a & 0x70) >> 4
        switch segment {
        case 0: t += 8
        case 1: t += 0x108
        default: t = (t + 0x108) << (segment - 1)
        }
        return Int16(a & 0x80 != 0 ? t : -t)
    }

    static func encodeULaw(_ pcm: [Int16]) -> [UInt8] { pcm.map(ulaw) }
}

/// A decoded WAV file: mono PCM at its own rate.
struct SimWAV {
    var sampleRate: Int
    var pcm: [Int16]

    enum Failure: Error, CustomStringConvertible {
        case unreadable(String)
        case notWAV(String)
        case unsupported(String, String)

        var description: String {
            switch self {
            case .unreadable(let path): "cannot read \(path)"
            case .notWAV(let path): "\(path) is not a RIFF/WAVE file"
            case .unsupported(let path, let why): "\(path): unsupported WAV (\(why))"
            }
        }
    }

    /// Reads PCM16, μ-law or A-law WAV, mixing several channels down to mono.
    static func read(path: String) throws -> SimWAV {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure.unreadable(path) }
        let bytes = [UInt8](data)
        func u32(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24 }
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw Failure.notWAV(path)
        }
        var format = -1, channels = 0, rate = 0, bits = 0
        var payload: ArraySlice<UInt8>?
        var i = 12
        while i + 8 <= bytes.count {
            let size = u32(i + 4)
            let body = i + 8
            let end = min(bytes.count, body + size)
            if bytes[i..<(i + 4)].elementsEqual("fmt ".utf8), end - body >= 16 {
                format = u16(body)
                channels = u16(body + 2)
                rate = u32(body + 4)
                bits = u16(body + 14)
                if format == 0xFFFE, end - body >= 26 { format = u16(body + 24) }
            } else if bytes[i..<(i + 4)].elementsEqual("data".utf8) {
                payload = bytes[body..<end]
            }
            i = body + size + (size & 1)
        }
        guard let payload, channels > 0, rate > 0 else { throw Failure.notWAV(path) }
        var samples: [Int16]
        switch (format, bits) {
        case (1, 16):
            samples = stride(from: payload.startIndex, to: payload.endIndex - 1, by: 2).map {
                Int16(bitPattern: UInt16(payload[$0]) | UInt16(payload[$0 + 1]) << 8)
            }
        case (7, 8): samples = payload.map(SimG711.linear(ulaw:))
        case (6, 8): samples = payload.map(SimG711.linear(alaw:))
        default: throw Failure.unsupported(path, "format \(format), \(bits) bits")
        }
        if channels > 1 {
            samples = stride(from: 0, to: samples.count - channels + 1, by: channels).map { start in
                var sum = 0
                for c in 0..<channels { sum += Int(samples[start + c]) }
                return Int16(sum / channels)
            }
        }
        return SimWAV(sampleRate: rate, pcm: samples)
    }

    /// Writes μ-law 8 kHz mono.
    static func writeULaw(_ ulaw: [UInt8], to path: String) throws {
        var out: [UInt8] = []
        out.reserveCapacity(58 + ulaw.count)
        func put32(_ v: Int) { out.append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)]) }
        func put16(_ v: Int) { out.append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)]) }
        out += Array("RIFF".utf8); put32(4 + 26 + 12 + 8 + ulaw.count + (ulaw.count & 1)); out += Array("WAVE".utf8)
        out += Array("fmt ".utf8); put32(18); put16(7); put16(1); put32(8000); put32(8000); put16(1); put16(8); put16(0)
        out += Array("fact".utf8); put32(4); put32(ulaw.count)
        out += Array("data".utf8); put32(ulaw.count); out += ulaw
        if ulaw.count & 1 == 1 { out.append(0) }
        try Data(out).write(to: URL(fileURLWithPath: path))
    }

    /// The audio at 8 kHz (linear interpolation; a placeholder for the speexdsp resampler).
    func resampled8k() -> [Int16] {
        guard sampleRate != 8000, !pcm.isEmpty else { return pcm }
        let ratio = Double(sampleRate) / 8000
        let count = Int(Double(pcm.count) / ratio)
        return (0..<count).map { n in
            let x = Double(n) * ratio
            let i = Int(x)
            let frac = x - Double(i)
            let a = Double(pcm[i]), b = Double(pcm[min(i + 1, pcm.count - 1)])
            return Int16(clamping: Int((a + (b - a) * frac).rounded()))
        }
    }
}

enum SimTones {
    static let dtmfFrequencies: [Character: (Double, Double)] = [
        "1": (697, 1209), "2": (697, 1336), "3": (697, 1477),
        "4": (770, 1209), "5": (770, 1336), "6": (770, 1477),
        "7": (852, 1209), "8": (852, 1336), "9": (852, 1477),
        "*": (941, 1209), "0": (941, 1336), "#": (941, 1477),
    ]

    /// One DTMF digit at 8 kHz, `toneMs` long, each tone about -10 dBm0.
    static func dtmf(_ digit: Character, toneMs: Int = 100) -> [Int16] {
        guard let (low, high) = dtmfFrequencies[digit] else { return [] }
        let amplitude = 8159 * 0.316  // a 0 dBm0 sine peaks near 8159 in μ-law's range; -10 dB each
        return (0..<(toneMs * 8)).map { n in
            let t = Double(n) / 8000
            let v = amplitude * (sin(2 * .pi * low * t) + sin(2 * .pi * high * t))
            return Int16(clamping: Int(v.rounded()))
        }
    }
}
