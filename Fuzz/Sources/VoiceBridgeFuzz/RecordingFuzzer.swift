import VoiceBridgeRecording

/// Call recordings (JSON Lines) as `voicebridge replay` reads them.
enum RecordingFuzzer {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        guard let call = try? RecordedCall(text: bytes.lossyText) else { return }
        _ = call.lastTime
    }
}
