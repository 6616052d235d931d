import Testing
import VoiceBridgeAudio
import VoiceBridgeCalls
import VoiceBridgeCarriers

/// What the bridge's own ears make of the phone simulator's coded speech (`call --say`): speech,
/// never a key press, in every format a carrier streams.
@Suite struct CallListenerSpokenTextTests {
    @Test(arguments: [MediaFormat.mulaw8kMono, .alaw8kMono, .l16LittleEndian(8000), .l16BigEndian16k])
    func codedSpeechIsOneStretchOfSpeechAndNoDigit(format: MediaFormat) throws {
        let pcm = [Int16](repeating: 0, count: 4000) + (try SpokenTextCode.encode("pay my bill, account 1234, 5"))
            + [Int16](repeating: 0, count: 8000)
        let wire = format.sampleRate == 8000 ? format.encode(pcm) : format.encode(try Resampler.resample(pcm, from: 8000, to: format.sampleRate))
        let listener = CallListener(speech: SpeechDetectorConfiguration())
        #expect(listener.listen(to: format))
        var events: [CallListener.Event] = []
        let frameBytes = format.frameBytes
        wire.withUnsafeBytes { all in
            for start in stride(from: 0, to: all.count, by: frameBytes) {
                listener.process(UnsafeRawBufferPointer(rebasing: all[start..<min(all.count, start + frameBytes)])) { events.append($0) }
            }
        }
        #expect(events.count == 2, "\(events)")
        guard case .speechStarted(let onsetMs, _)? = events.first, case .speechStopped? = events.last else {
            Issue.record("expected speech started then stopped, got \(events)")
            return
        }
        #expect(abs(onsetMs - 500) <= 10)
        #expect(!events.contains { if case .digit = $0 { true } else { false } })
    }
}
