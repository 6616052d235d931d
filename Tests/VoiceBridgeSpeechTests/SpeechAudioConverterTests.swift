import Foundation
import Testing
import VoiceBridgeAudio
import VoiceBridgeCarriers
@testable import VoiceBridgeSpeech

@Suite struct SpeechAudioConverterTests {
    static let wideLE = MediaFormat.l16LittleEndian(16000)
    static let wideBE = MediaFormat(encoding: .l16(.bigEndian), sampleRate: 16000)

    @Test func theCallsOwnFormatPassesThroughByteForByte() throws {
        let converter = SpeechAudioConverter(target: Self.wideLE)
        let bytes: [UInt8] = (0..<641).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(try converter.convert(bytes, from: Self.wideLE) == bytes)
        #expect(converter.finish().isEmpty)
    }

    @Test func bigEndianCarriersGetTheSamplesSwappedEvenAcrossAChunkCut() throws {
        let converter = SpeechAudioConverter(target: Self.wideBE)
        // 0x1234, 0xABCD little-endian, cut inside the second sample.
        let first = try converter.convert([0x34, 0x12, 0xCD], from: Self.wideLE)
        let second = try converter.convert([0xAB], from: Self.wideLE)
        #expect(first + second == [0x12, 0x34, 0xAB, 0xCD])
    }

    @Test func g711LawsAreTranscodedSampleForSample() throws {
        let pcm: [Int16] = (0..<160).map { Int16(sin(Double($0) * 0.3) * 9000) }
        let ulaw = G711.encode(pcm, law: .ulaw)
        let converter = SpeechAudioConverter(target: .alaw8kMono)
        #expect(try converter.convert(ulaw, from: .mulaw8kMono) == G711.encode(G711.decode(ulaw, law: .ulaw), law: .alaw))
    }

    @Test func narrowbandSpeechIsResampledForAWidebandCall() throws {
        // One second of a 1 kHz tone in μ-law: 16,000 samples at 16 kHz, still 1 kHz.
        let tone = (0..<8000).map { Int16(sin(2 * Double.pi * 1000 * Double($0) / 8000) * 12000) }
        let converter = SpeechAudioConverter(target: Self.wideLE)
        var out: [UInt8] = []
        for piece in stride(from: 0, to: tone.count, by: 1000) {
            out += try converter.convert(G711.encode(Array(tone[piece..<piece + 1000]), law: .ulaw), from: .mulaw8kMono)
        }
        out += converter.finish()
        let samples = Self.wideLE.decode(out)
        #expect(abs(samples.count - 16000) <= 40)
        // Zero crossings over the steady middle half second: 2 per cycle at 1 kHz.
        let middle = samples[4000..<12000]
        let crossings = zip(middle, middle.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        #expect(abs(crossings - 1000) <= 4)
    }

    @Test func widebandSpeechIsBroughtDownForANarrowbandCall() throws {
        let converter = SpeechAudioConverter(target: .mulaw8kMono)
        let out = try converter.convert([UInt8](repeating: 0, count: 3200), from: Self.wideLE) + converter.finish()
        #expect(abs(out.count - 800) <= 20)
    }

    @Test func elevenLabsIsAskedForTheCarriersOwnFormat() {
        #expect(ElevenLabsOutputFormat(for: .mulaw8kMono) == .ulaw8000)
        #expect(ElevenLabsOutputFormat(for: .alaw8kMono) == .alaw8000)
        #expect(ElevenLabsOutputFormat(for: .l16LittleEndian(8000)) == .pcm8000)
        #expect(ElevenLabsOutputFormat(for: Self.wideBE) == .pcm16000)
        #expect(ElevenLabsOutputFormat.pcm16000.mediaFormat == Self.wideLE)
        #expect(ElevenLabsOutputFormat.ulaw8000.mediaFormat == .mulaw8kMono)
        #expect(ElevenLabsOutputFormat.mp3_44100_128.mediaFormat == nil)
    }
}
