import Testing
import VoiceBridgeAudio
@testable import VoiceBridgeCarriers

@Suite struct MediaFormatPCMTests {
    static let ramp: [Int16] = [0, 1, -1, 256, -256, 0x1234, -0x1234, .max, .min + 1]

    @Test func l16RoundTripsInEitherByteOrder() {
        let le = MediaFormat.l16LittleEndian(16000)
        let be = MediaFormat(encoding: .l16(.bigEndian), sampleRate: 16000)
        #expect(le.encode([0x1234]) == [0x34, 0x12])
        #expect(be.encode([0x1234]) == [0x12, 0x34])
        #expect(le.decode(le.encode(Self.ramp)) == Self.ramp)
        #expect(be.decode(be.encode(Self.ramp)) == Self.ramp)
        // A trailing odd byte is half a sample, not a sample.
        #expect(le.decode([0x34, 0x12, 0x99]) == [0x1234])
    }

    @Test func g711FormatsUseSpanDSPsLaws() {
        let pcm: [Int16] = [0, 1000, -1000, 8000, -8000]
        #expect(MediaFormat.alaw8kMono.encode(pcm) == G711.encode(pcm, law: .alaw))
        #expect(MediaFormat.mulaw8kMono.encode(pcm) == G711.encode(pcm, law: .ulaw))
        #expect(MediaFormat.alaw8kMono.decode([0xD5, 0x55]) == G711.decode([0xD5, 0x55], law: .alaw))
    }

    @Test func durationsAndSilenceFollowTheFormat() {
        #expect(MediaFormat.mulaw8kMono.nanoseconds(ofBytes: 160) == 20_000_000)
        #expect(MediaFormat.l16LittleEndian(8000).nanoseconds(ofBytes: 320) == 20_000_000)
        #expect(MediaFormat.l16LittleEndian(16000).nanoseconds(ofBytes: 640) == 20_000_000)
        #expect(MediaFormat.mulaw8kMono.silenceByte == 0xFF)
        #expect(MediaFormat.alaw8kMono.silenceByte == 0xD5)
        #expect(MediaFormat.l16LittleEndian(16000).silenceByte == 0)
        #expect(MediaFormat.alaw8kMono.decode([MediaFormat.alaw8kMono.silenceByte]).first.map { abs(Int($0)) < 16 } == true)
    }
}
