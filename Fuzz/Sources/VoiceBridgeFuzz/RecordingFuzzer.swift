import VoiceBridgeCalls
import VoiceBridgeRecording

/// Call recordings (JSON Lines) as `voicebridge replay` reads them.
enum RecordingFuzzer {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        guard let call = try? RecordedCall(text: bytes.lossyText) else { return }
        _ = call.lastTime
    }
}

/// A recording that parses, replayed on the demo menu, with its report and `--html` timeline: a
/// recording's numbers reach sample and nanosecond conversions there (`"t":1e300` trapped the
/// replay before the reader bounded it), which parsing alone never exercises. A target of its own
/// because a replay costs milliseconds where a parse costs microseconds.
enum ReplayFuzzer {
    /// Longer recordings still parse; replaying them would only slow the fuzzer down.
    static let longestReplayMs = 120_000.0

    static func run(_ bytes: UnsafeRawBufferPointer) {
        guard let call = try? RecordedCall(text: bytes.lossyText) else { return }
        guard call.lastTime <= longestReplayMs, (call.header.durationMs ?? 0) <= longestReplayMs else { return }
        let engine = ReplayEngine(flows: { _ in DemoMenuFlow() })
        guard let result = try? engine.replay(call) else { return }
        _ = result.report
        _ = TimelineHTML.page(CallTimeline(result))
    }
}
