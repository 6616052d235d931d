import VoiceBridgeAudio

/// WAV files: flow `play` files and prompts (converted to telephony μ-law at load) and the
/// simulator's `--caller-wav`.
///
/// Property: what decodes re-encodes to a file that decodes to the same audio.
enum WAVFuzzer {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        guard let audio = try? WAVFile.decode(Array(bytes)) else { return }
        require(audio.data.count % audio.blockAlign == 0, "decode kept a partial sample frame")
        let again = Result { () throws(WAVError) in try WAVFile.decode(WAVFile.encode(audio)) }
        guard case .success(let reread) = again, reread == audio else {
            fail("encode → decode changed the audio: \(again)")
        }
        _ = audio.durationMs
        _ = try? audio.telephonyULaw()
    }
}
