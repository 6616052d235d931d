import Foundation
import Testing
import VoiceBridgeAudio
import VoiceBridgePrompts

@Suite struct PromptAudioTests {
    /// One second of a 1 kHz tone as the synthesiser would send it in μ-law.
    let ulawSecond = SynthesizedAudio(format: .ulaw8000, bytes: G711.encode(
        (0..<8000).map { Int16(8000 * sin(2 * Double.pi * 1000 * Double($0) / 8000)) }, law: .ulaw
    ))

    @Test func ulawWAVKeepsTheBytesAndHasATelephonyHeader() throws {
        let file = try PromptAudio.file(from: ulawSecond, as: .ulawWAV)
        let wav = try WAVFile.decode(file)
        #expect(wav.sampleRate == 8000)
        #expect(wav.channels == 1)
        #expect(wav.encoding == .ulaw)
        #expect(wav.data == ulawSecond.bytes)
        #expect(Array(file[20..<22]) == [7, 0])  // WAVE_FORMAT_MULAW
        #expect(try PromptAudio.durationMs(ofFile: file, format: .ulawWAV) == 1000)
        #expect(try PromptAudio.telephonyULaw(fromFile: file, format: .ulawWAV) == ulawSecond.bytes)
    }

    @Test func rawULawIsTheBytesThemselves() throws {
        let file = try PromptAudio.file(from: ulawSecond, as: .ulaw)
        #expect(file == ulawSecond.bytes)
        #expect(try PromptAudio.durationMs(ofFile: file, format: .ulaw) == 1000)
    }

    /// Every format: the right header (or none), rate, encoding and duration, and back to the
    /// carrier's μ-law close to the original.
    @Test(arguments: PromptFormat.allCases)
    func everyFormatHasItsHeaderAndDuration(format: PromptFormat) throws {
        let file = try PromptAudio.file(from: ulawSecond, as: format)
        #expect(try PromptAudio.durationMs(ofFile: file, format: format) == 1000)
        if format.isWAV {
            let wav = try WAVFile.decode(file)
            #expect(wav.sampleRate == format.sampleRate)
            #expect(wav.channels == 1)
            #expect(wav.encoding == format.encoding)
            #expect(wav.frameCount == format.sampleRate)
            #expect(Array(file[0..<4]) == Array("RIFF".utf8))
        } else {
            #expect(file.count == format.sampleRate * format.encoding.bytesPerSample)
            #expect(Array(file.prefix(4)) != Array("RIFF".utf8))
        }
        let back = try PromptAudio.telephonyULaw(fromFile: file, format: format)
        #expect(back.count == 8000)
        // The tone survives the round trip (G.711 and resampling are not bit-exact).
        let original = G711.decode(ulawSecond.bytes, law: .ulaw)
        let returned = G711.decode(back, law: .ulaw)
        let error = zip(original, returned).dropFirst(100).dropLast(100).map { abs(Double($0) - Double($1)) }.max() ?? 0
        #expect(error < 800, "largest difference \(error) in a tone of amplitude 8000")
    }

    @Test func alawWAVUsesTheALawTag() throws {
        let file = try PromptAudio.file(from: ulawSecond, as: .alawWAV)
        #expect(Array(file[20..<22]) == [6, 0])  // WAVE_FORMAT_ALAW
    }

    @Test func pcmIsResampledToTheFileRate() throws {
        // 24 kHz PCM from upstream, to an 8 kHz and a 16 kHz file.
        let samples = (0..<24000).map { Int16(8000 * sin(2 * Double.pi * 440 * Double($0) / 24000)) }
        let pcm = SynthesizedAudio(format: .pcm(24000), bytes: WAVAudio(pcm16: samples, sampleRate: 24000).data)
        #expect(pcm.durationMs == 1000)
        let narrow = try WAVFile.decode(PromptAudio.file(from: pcm, as: .pcm16WAV8k))
        #expect(narrow.sampleRate == 8000)
        #expect(narrow.frameCount == 8000)
        let wide = try PromptAudio.file(from: pcm, as: .sln16)
        #expect(wide.count == 32000)
    }

    @Test func validationStripsAMatchingWAVHeaderAndRefusesAnother() throws {
        let wrapped = SynthesizedAudio(format: .ulaw8000, bytes: WAVFile.encode(WAVAudio(g711: ulawSecond.bytes, law: .ulaw)))
        #expect(try PromptAudio.validated(wrapped).bytes == ulawSecond.bytes)
        let wrong = SynthesizedAudio(format: .ulaw8000, bytes: WAVFile.encode(WAVAudio(pcm16: [1, 2, 3], sampleRate: 16000)))
        #expect(throws: PromptAudioError.self) { try PromptAudio.validated(wrong) }
        #expect(throws: PromptAudioError.empty) { try PromptAudio.validated(SynthesizedAudio(format: .ulaw8000, bytes: [])) }
        // A cut-off 16-bit sample is dropped, not stored as half a sample.
        #expect(try PromptAudio.validated(SynthesizedAudio(format: .pcm(16000), bytes: [1, 2, 3])).bytes == [1, 2])
    }

    @Test func damagedFilesAreErrorsNotCrashes() throws {
        #expect(throws: PromptAudioError.self) { try PromptAudio.telephonyULaw(fromFile: Array("{\"detail\":1}".utf8), format: .ulawWAV) }
        #expect(throws: PromptAudioError.self) { try PromptAudio.durationMs(ofFile: [], format: .pcm16WAV16k) }
        // Raw formats have no header to check; an odd byte of 16-bit PCM is ignored.
        #expect(try PromptAudio.durationMs(ofFile: [0, 0, 0], format: .sln16) == 0)
    }
}
