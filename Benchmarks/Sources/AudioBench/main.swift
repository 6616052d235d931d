// Measures the per-frame cost of the inbound audio path (μ-law → PCM → DTMF + speech detection) and of
// the outbound Reframer, in ns per 20 ms frame (160 samples at 8 kHz).
import Foundation
import VoiceBridgeAudio

let frameSamples = 160
let frameCount = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 500_000
let repetitions = 3

func clip(_ value: Double) -> Int16 { Int16(max(-32768, min(32767, value.rounded()))) }

/// One minute of a plausible caller: line noise throughout, speech-like bursts, and key presses.
func makeInbound() -> (ulaw: [UInt8], digits: Int) {
    var digitCount = 0
    var rng = SplitMix64(seed: 42)
    let seconds = 60
    var pcm = (0..<seconds * 8000).map { _ in 60 * rng.gaussian() } // about -55 dBm0 line noise
    var position = 4000
    while position < pcm.count - 24000 {
        if Int.random(in: 0..<4, using: &rng) == 0 {
            let digits = String((0..<3).map { _ in "0123456789*#".randomElement(using: &rng)! })
            let tones = (try? ToneGenerator.dtmf(digits, toneMs: 80, gapMs: 80, levelDBm0: -15)) ?? []
            digitCount += digits.count
            for (i, s) in tones.enumerated() where position + i < pcm.count { pcm[position + i] += Double(s) }
            position += tones.count
        } else {
            // Voiced speech stand-in: 120–220 Hz harmonics with a syllabic envelope, 0.3–2 s long.
            let length = Int.random(in: 2400...16000, using: &rng)
            let f0 = Double.random(in: 120...220, using: &rng)
            for n in 0..<length where position + n < pcm.count {
                let t = Double(n) / 8000
                var v = 0.0
                var h = 1.0
                while h * f0 < 3400 { v += sin(2 * Double.pi * h * f0 * t) / h; h += 1 }
                pcm[position + n] += 2500 * v * (0.4 + 0.6 * abs(sin(2 * Double.pi * 3 * t)))
            }
            position += length
        }
        position += Int.random(in: 1600...12000, using: &rng)
    }
    return (G711.encode(pcm.map(clip), law: .ulaw), digitCount)
}

struct Result {
    var name: String
    var nsPerFrame: Double
    var checksum: Int
}

/// Runs `body` over `frameCount` frames `repetitions` times and keeps the fastest run.
func measure(_ name: String, _ body: () -> Int) -> Result {
    var best = Double.infinity
    var checksum = 0
    for _ in 0..<repetitions {
        let clock = ContinuousClock()
        var sum = 0
        let elapsed = clock.measure { sum = body() }
        let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        best = min(best, ns / Double(frameCount))
        checksum = sum
    }
    return Result(name: name, nsPerFrame: best, checksum: checksum)
}

let (inbound, digitsPerLoop) = makeInbound()
let loopFrames = inbound.count / frameSamples
let decodedLoop = G711.decode(inbound, law: .ulaw)
var results: [Result] = []

results.append(measure("μ-law decode (160 B → PCM)") {
    var pcm = [Int16](repeating: 0, count: frameSamples)
    var sum = 0
    inbound.withUnsafeBufferPointer { all in
        pcm.withUnsafeMutableBufferPointer { out in
            for i in 0..<frameCount {
                let start = (i % loopFrames) * frameSamples
                G711.decode(UnsafeBufferPointer(rebasing: all[start ..< start + frameSamples]), law: .ulaw, into: out)
                sum &+= Int(out[i % frameSamples])
            }
        }
    }
    return sum
})

results.append(measure("DTMF detection") {
    let detector = DTMFDetector()
    var digits = 0
    decodedLoop.withUnsafeBufferPointer { all in
        for i in 0..<frameCount {
            let start = (i % loopFrames) * frameSamples
            detector.process(UnsafeBufferPointer(rebasing: all[start ..< start + frameSamples])) { _ in digits += 1 }
        }
    }
    return digits
})

results.append(measure("speech detection") {
    let detector = SpeechDetector()
    var events = 0
    decodedLoop.withUnsafeBufferPointer { all in
        for i in 0..<frameCount {
            let start = (i % loopFrames) * frameSamples
            if detector.process(UnsafeBufferPointer(rebasing: all[start ..< start + frameSamples])) != nil { events += 1 }
        }
    }
    return events
})

results.append(measure("inbound path: decode + DTMF + speech") {
    let dtmf = DTMFDetector()
    let speech = SpeechDetector()
    var pcm = [Int16](repeating: 0, count: frameSamples)
    var events = 0
    inbound.withUnsafeBufferPointer { all in
        pcm.withUnsafeMutableBufferPointer { out in
            let frame = UnsafeBufferPointer(out)
            for i in 0..<frameCount {
                let start = (i % loopFrames) * frameSamples
                G711.decode(UnsafeBufferPointer(rebasing: all[start ..< start + frameSamples]), law: .ulaw, into: out)
                dtmf.process(frame) { _ in events += 1 }
                if speech.process(frame) != nil { events += 1 }
            }
        }
    }
    return events
})

// Outbound: TTS-like chunks of odd sizes, so about half the frames straddle a chunk boundary.
let chunks: [[UInt8]] = {
    var rng = SplitMix64(seed: 7)
    var list: [[UInt8]] = []
    var offset = 0
    while offset < inbound.count - 4000 {
        let size = Int.random(in: 37...3999, using: &rng)
        list.append(Array(inbound[offset ..< offset + size]))
        offset += size
    }
    return list
}()

results.append(measure("Reframer (append + withNextFrame)") {
    var reframer = Reframer()
    var sum = 0
    var frames = 0
    var next = 0
    while frames < frameCount {
        if !reframer.hasFrame {
            reframer.append(chunks[next])
            next = (next + 1) % chunks.count
            continue
        }
        sum &+= reframer.withNextFrame { Int($0[frames % frameSamples]) } ?? 0
        frames += 1
    }
    return sum
})

print("AudioBench: \(frameCount) frames of 20 ms (160 samples @ 8 kHz), best of \(repetitions) runs")
let loops = Double(frameCount) / Double(loopFrames)
print(String(format: "  input: %d s loop with %d DTMF digits; DTMF checksum counts detections (expect about %.0f)",
             loopFrames / 50, digitsPerLoop, loops * Double(digitsPerLoop)))
for result in results {
    let name = result.name.padding(toLength: 40, withPad: " ", startingAt: 0)
    let perFrame = String(format: "%8.1f ns/frame", result.nsPerFrame)
    let load = String(format: "%7.4f%% of real time", result.nsPerFrame / 20_000_000 * 100)
    print("  \(name) \(perFrame)  \(load)  [checksum \(result.checksum)]")
}
let inboundResult = results[3].nsPerFrame
print(inboundResult <= 2000 ? "inbound path within the 2 µs/frame target" : "inbound path OVER the 2 µs/frame target")
