import NIOCore
import Testing
import VoiceBridgeAudio
import VoiceBridgeCallTesting
import VoiceBridgeCarriers
import VoiceBridgeSpeech
@testable import VoiceBridgeCalls

/// A call plays and listens in the format its stream's start announced.
@Suite struct CallMediaFormatTests {
    static let wideLE = MediaFormat.l16LittleEndian(16000)
    static let wideBE = MediaFormat(encoding: .l16(.bigEndian), sampleRate: 16000)

    @Test(arguments: [
        (MediaFormat.mulaw8kMono, 160), (MediaFormat.alaw8kMono, 160), (MediaFormat.l16LittleEndian(8000), 320),
        (MediaFormat.l16LittleEndian(16000), 640),
    ])
    func framesAre20msOfTheStreamsFormat(format: MediaFormat, frameBytes: Int) {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.text("Hello."), id: "greeting", interruptible: .any) }
        h.start(format: format)
        let audio = [UInt8](repeating: 0x11, count: format.bytes(milliseconds: 210))
        h.call.speechChunk(SpeechChunk(turnID: "1", audio: audio, format: format), turnID: "1")
        h.call.speechFinished(turnID: "1", error: nil)
        h.advance(ms: 1_000)
        let frames = h.sink.mediaFrames
        #expect(frames.count == 11)
        #expect(frames.allSatisfy { $0.count == frameBytes })
        // Same format: byte for byte, the last frame padded with the format's silence.
        #expect(Array(h.sink.mediaBytes.prefix(audio.count)) == audio)
        #expect(frames.last!.suffix(frameBytes / 2) == ArraySlice(repeating: format.silenceByte, count: frameBytes / 2))
        #expect(h.sink.marks == ["1.1"])
    }

    @Test func littleEndianSpeechReachesABigEndianCarrierSwapped() {
        let h = CallHarness()
        h.flow.onStart = { $0.play(.text("Hello."), id: "greeting", interruptible: .any) }
        h.start(format: Self.wideBE)
        let samples: [Int16] = (0..<320).map { Int16($0 * 50) }
        let le = Self.wideLE.encode(samples)
        h.call.speechChunk(SpeechChunk(turnID: "1", audio: Array(le[..<101]), format: Self.wideLE), turnID: "1")
        h.call.speechChunk(SpeechChunk(turnID: "1", audio: Array(le[101...]), format: Self.wideLE), turnID: "1")
        h.call.speechFinished(turnID: "1", error: nil)
        h.advance(ms: 200)
        #expect(h.sink.mediaBytes == Self.wideBE.encode(samples))
    }

    @Test func narrowbandPromptsAreConvertedForAWidebandStreamAndKeepTheirLength() {
        let h = CallHarness()
        let beep = ToneGenerator.ulaw(ToneGenerator.pcm(.beep, durationMs: 400))
        h.flow.onStart = { $0.play(.audio(beep, text: ""), id: "beep", interruptible: .any) }
        h.start(format: Self.wideLE)
        h.advance(ms: 1_000)
        let frames = h.sink.mediaFrames
        #expect(frames.allSatisfy { $0.count == 640 })
        #expect((20...21).contains(frames.count))
        // The beep is 1 kHz: heard at 16 kHz, 2 zero crossings per millisecond (200 ms here).
        let pcm = Self.wideLE.decode(Array(h.sink.mediaBytes[3200..<9600]))
        let crossings = zip(pcm, pcm.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        #expect(abs(crossings - 400) <= 4)
    }

    @Test(arguments: [MediaFormat.alaw8kMono, MediaFormat.l16LittleEndian(8000), MediaFormat.l16LittleEndian(16000)])
    func inBandKeysAreHeardInEveryFormat(format: MediaFormat) throws {
        let h = CallHarness()
        h.start(format: format)
        let pcm8k = try ToneGenerator.dtmf("7", toneMs: 100, gapMs: 100, levelDBm0: -10)
        let pcm = format.sampleRate == 8000 ? pcm8k : try Resampler.resample(pcm8k, from: 8000, to: format.sampleRate)
        let bytes = format.encode(pcm)
        let frame = format.frameBytes
        for i in stride(from: 0, to: bytes.count - frame + 1, by: frame) { h.callerFrame(Array(bytes[i..<i + frame])) }
        #expect(h.flow.events.contains(.digit("7", interrupted: false)))
    }

    @Test func anUnusableRateEndsTheCallWithAClearReason() {
        let h = CallHarness()
        h.start(format: MediaFormat(encoding: .l16(.littleEndian), sampleRate: 11025))
        #expect(h.call.phase == .ended)
        #expect(h.sink.closed.count == 1)
    }
}
